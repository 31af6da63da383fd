"""Offline verification of the user center's access tokens with its JWKS (RFC 7517, RFC 8725).

For services that are not behind API Gateway. The algorithm comes from the key named by ``kid``, never
from the token, so ``alg: none`` and algorithm confusion fail; ``exp``, ``iss``, ``aud`` and ``typ`` are
checked. Keys are cached; an unknown ``kid`` (after a key rotation) refetches the JWKS at most once per
``min_refetch_seconds``. Offline checks cannot see a revoked session: use ``POST /api/auth/verify-token``
where a logout must count before the token expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

ALLOWED = ("ES256", "RS256")


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or for another issuer or audience."""


def _fetch(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


class JwksVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_seconds: int = 300,
        min_refetch_seconds: int = 60,
        fetch: Callable[[str], dict[str, Any]] = _fetch,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, tuple[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> None:
        keys: dict[str, tuple[str, Any]] = {}
        for jwk in self._fetch(self.jwks_url).get("keys", []):
            alg = jwk.get("alg")
            if alg in ALLOWED and jwk.get("kid") and jwk.get("use", "sig") == "sig":
                keys[jwk["kid"]] = (alg, jwt.PyJWK.from_dict(jwk, algorithm=alg).key)
        self._keys, self._fetched_at = keys, self._clock()

    def _key(self, kid: str) -> tuple[str, Any] | None:
        with self._lock:
            age = self._clock() - self._fetched_at
            if age > self.cache_seconds or (kid not in self._keys and age > self.min_refetch_seconds):
                self._load()
            return self._keys.get(kid)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims.

        Raises:
            InvalidToken: for every reason a token is not acceptable.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        kid = header.get("kid")
        found = self._key(kid) if isinstance(kid, str) else None
        if found is None:
            raise InvalidToken("unknown key")
        alg, key = found
        if header.get("alg") != alg:
            raise InvalidToken("algorithm does not match the key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        return claims
