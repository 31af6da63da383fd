"""OpenID Connect for the sign-in center (issue 11): the discovery document, the standard claims a scope
releases, and ID tokens signed with the existing key ring (ES256 or RS256, with ``kid``).

The access token a client gets is the same JWT the authorizer accepts (``TokenService``), for the
client's app; the ID token is a separate JWT whose audience is the client (OpenID Connect Core 2).
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt

from shared.clock import Clock, system_clock
from shared.domain import User
from shared.services.signing_keys import KeyRingProvider

SCOPES = ("openid", "profile", "email", "phone", "offline_access")
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ID_TOKEN_TTL = 300  # seconds: an ID token is read once, at sign-in


def discovery(issuer: str, algorithms: list[str]) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0) for ``issuer`` (no trailing
    slash): every endpoint under it, and only what the center does (code flow, S256, RFC 9207 ``iss``)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": sorted(set(algorithms)),
        "scopes_supported": list(SCOPES),
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "amr",
            *CLAIMS["profile"],
            *CLAIMS["email"],
            *CLAIMS["phone"],
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["zh-CN", "en"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "nickname", "preferred_username", "picture", "gender", "birthdate", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}


def standard_claims(user: User, scope: list[str]) -> dict[str, Any]:
    """The claims ``scope`` releases about ``user`` (OpenID Connect Core 5.4), absent values left out;
    ``sub`` always."""
    values: dict[str, Any] = {"sub": user.user_id}
    if "profile" in scope:
        values.update(
            {
                "name": user.real_name or user.nickname,
                "nickname": user.nickname,
                "preferred_username": user.username,
                "picture": user.avatar,
                "gender": user.gender,
                "birthdate": user.birthday,
                "updated_at": int(user.last_login_at or user.created_at) or None,
            }
        )
    if "email" in scope and user.email:
        values.update({"email": user.email, "email_verified": bool(user.email_verified)})
    if "phone" in scope and user.phone:
        values.update({"phone_number": user.phone, "phone_number_verified": bool(user.phone_verified)})
    return {name: value for name, value in values.items() if value is not None}


class IdTokens:
    """Signs ID tokens with the active key of the ring the access tokens use."""

    def __init__(self, keys: KeyRingProvider, clock: Clock = system_clock, ttl: int = ID_TOKEN_TTL) -> None:
        self.keys = keys
        self.clock = clock
        self.ttl = ttl

    def issue(
        self,
        issuer: str,
        user: User,
        client_id: str,
        *,
        auth_time: int,
        sid: str,
        amr: list[str],
        scope: list[str],
        nonce: str | None = None,
    ) -> str:
        """An ID token for ``client_id``: ``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``auth_time``, ``sid``
        (the center session, for back-channel logout), ``amr``, ``nonce`` when the request had one, and
        the claims of ``scope``."""
        key = self.keys.ring().active
        now = int(self.clock())
        claims: dict[str, Any] = {
            **standard_claims(user, scope),
            "iss": issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + self.ttl,
            "auth_time": int(auth_time),
            "sid": sid,
            "amr": list(amr),
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})

    def logout_token(self, issuer: str, client_id: str, user_id: str, sid: str) -> str:
        """An OpenID Connect Back-Channel Logout token for ``client_id``: ``iss``, ``aud``, ``iat``, ``exp``
        (two minutes), ``jti``, ``sub``, ``sid`` and the logout event; no ``nonce`` (section 2.4)."""
        key = self.keys.ring().active
        now = int(self.clock())
        claims = {
            "iss": issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(16),
            "sub": user_id,
            "sid": sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "logout+jwt"})
