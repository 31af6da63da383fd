"""Access tokens (JWT, ES256/RS256 with ``kid``) and opaque refresh tokens.

Verification follows RFC 8725: the algorithm comes from the key named by ``kid``, never from the token,
so ``alg: none`` and algorithm confusion are refused; ``exp``, ``iss``, ``aud`` and ``typ`` are checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.errors import TokenExpiredError, TokenInvalidError
from shared.services.signing_keys import KeyRingProvider

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token."""

    user_id: str
    session_id: str
    app_name: str
    roles: list[str]
    exp: int
    raw: dict[str, Any]


class TokenService:
    """Signs and verifies access tokens with the key ring."""

    def __init__(
        self,
        keys: KeyRingProvider,
        *,
        issuer: str,
        audience: str,
        access_ttl: int,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.clock = clock
        self.ids = ids

    def issue_access(self, user_id: str, session_id: str, app_name: str, roles: list[str]) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        key = self.keys.ring().active
        now = int(self.clock())
        claims = {
            "sub": user_id,
            "sid": session_id,
            "app": app_name,
            "roles": list(roles),
            "iat": now,
            "exp": now + self.access_ttl,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": self.ids(),
            "typ": "access",
        }
        token = jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})
        return token, self.access_ttl

    def verify_access(self, token: str) -> AccessClaims:
        """Check signature, algorithm, ``exp``, ``iss``, ``aud`` and ``typ``.

        Raises:
            TokenExpiredError: the token is past ``exp``.
            TokenInvalidError: anything else is wrong with it.
        """
        if not token or len(token) > 4096:
            raise TokenInvalidError()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalidError() from exc
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenInvalidError()
        key = self.keys.key_for(kid)
        if key is None or header.get("alg") != key.alg:
            raise TokenInvalidError()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[key.alg],
                audience=self.audience,
                issuer=self.issuer,
                # exp is checked below against the injected clock, not PyJWT's real time.
                options={"require": REQUIRED_CLAIMS, "verify_iat": False, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalidError() from exc
        if not isinstance(claims["exp"], int):
            raise TokenInvalidError()
        if claims["exp"] <= int(self.clock()):
            raise TokenExpiredError()
        roles = claims.get("roles", [])
        if claims.get("typ") != "access" or not isinstance(roles, list):
            raise TokenInvalidError()
        return AccessClaims(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            app_name=str(claims.get("app", "")),
            roles=[str(r) for r in roles],
            exp=int(claims["exp"]),
            raw=claims,
        )


def new_refresh_token(session_id: str, generation: int = 0) -> tuple[str, str]:
    """A refresh token ``<session_id>.<generation>.<secret>`` and the hash stored in the session.

    The hash covers the whole token, so the session id and generation in it cannot be altered.
    """
    token = f"{session_id}.{generation}.{secrets.token_urlsafe(32)}"
    return token, hash_secret(token)


def seal_successor(presented: str, successor: str) -> str:
    """The successor refresh token, sealed with a key only holders of ``presented`` can derive.

    Stored on the session at rotation, so a refresh repeated within the leeway (two tabs at once) can
    answer with the same successor; the table holds neither token, only their hashes and this box.
    """
    data = successor.encode("ascii")
    pad = _keystream(presented, len(data))
    return base64.urlsafe_b64encode(bytes(a ^ b for a, b in zip(data, pad, strict=True))).decode("ascii")


def open_successor(presented: str, box: str) -> str | None:
    """The successor sealed by :func:`seal_successor` with the same ``presented`` token (else None)."""
    try:
        data = base64.urlsafe_b64decode(box.encode("ascii"))
        pad = _keystream(presented, len(data))
        return bytes(a ^ b for a, b in zip(data, pad, strict=True)).decode("ascii")
    except (ValueError, UnicodeError):
        return None


def _keystream(key: str, length: int) -> bytes:
    blocks = b"".join(
        hmac.new(key.encode("utf-8"), f"successor-{i}".encode(), hashlib.sha256).digest()
        for i in range((length + 31) // 32)
    )
    return blocks[:length]


def split_refresh_token(token: str) -> tuple[str, int, str] | None:
    """``(session_id, generation, token_hash)`` of a refresh token, or None when it is malformed."""
    if not isinstance(token, str) or len(token) > 256 or token.count(".") != 2:
        return None
    session_id, generation, secret = token.split(".")
    if not session_id.isalnum() or not secret or not generation.isdigit() or len(generation) > 9:
        return None
    return session_id, int(generation), hash_secret(token)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
