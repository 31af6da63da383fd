"""Signing keys: a key ring with one active key and any number of keys still accepted.

The ring is a JSON document ``{"active_kid": "...", "keys": [{"kid", "alg", "private_key"}]}`` kept in
an SSM SecureString parameter in AWS (read through Powertools Parameters, cached), in a file under
``.local/`` in local mode (generated on first run), or inline for tests. Rotation adds a key, makes it
active, and keeps the previous one until every token it signed has expired, so nobody is logged out
(``scripts/signing_keys.py``; docs/operations.md).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.clock import Clock, system_clock
from shared.errors import ConfigurationError
from shared.private_files import read_or_create

SUPPORTED_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: Any
    public_key: Any

    def public_jwk(self) -> dict[str, str]:
        """The RFC 7517 public JWK of this key (PyJWT's own encoding), with ``kid``, ``alg`` and ``use``."""
        from jwt.algorithms import ECAlgorithm, RSAAlgorithm

        algorithm = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        jwk = algorithm.to_jwk(self.public_key, as_dict=True)
        members = {k: str(v) for k, v in jwk.items() if k != "key_ops"}  # RFC 7517: "use" or "key_ops"
        return {**members, "kid": self.kid, "alg": self.alg, "use": "sig"}


class KeyRing:
    """Parsed keys: ``active`` signs, every key in ``keys`` verifies."""

    def __init__(self, active: SigningKey, keys: dict[str, SigningKey]) -> None:
        self.active = active
        self.keys = keys

    @classmethod
    def from_document(cls, document: str | dict[str, Any]) -> KeyRing:
        """Parse the ring document.

        Raises:
            ConfigurationError: the document is malformed or names no usable active key.
        """
        try:
            data = json.loads(document) if isinstance(document, str) else document
            keys: dict[str, SigningKey] = {}
            for entry in data["keys"]:
                alg = entry.get("alg", "ES256")
                if alg not in SUPPORTED_ALGORITHMS:
                    raise ConfigurationError(f"unsupported signing algorithm {alg}")
                private = serialization.load_pem_private_key(entry["private_key"].encode(), password=None)
                _check_key_fits(alg, private)
                keys[entry["kid"]] = SigningKey(entry["kid"], alg, private, private.public_key())
            active = keys[data.get("active_kid") or data["keys"][-1]["kid"]]
        except ConfigurationError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ConfigurationError(f"malformed signing key ring: {type(exc).__name__}") from exc
        return cls(active, keys)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in self.keys.values()]}


def _check_key_fits(alg: str, private: Any) -> None:
    """ES256 needs a P-256 EC key and RS256 an RSA key of at least 2048 bits (RFC 7518)."""
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
        return
    if alg == "RS256" and isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048:
        return
    raise ConfigurationError(f"the key does not fit {alg}")


def generate_key(alg: str = "ES256") -> dict[str, str]:
    """A new private key entry for a ring document (PEM, PKCS#8)."""
    private: Any
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ConfigurationError(f"unsupported signing algorithm {alg}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return {"kid": secrets.token_hex(8), "alg": alg, "private_key": pem}


def new_ring_document(alg: str = "ES256") -> dict[str, Any]:
    key = generate_key(alg)
    return {"active_kid": key["kid"], "keys": [key]}


def rotate_document(document: dict[str, Any], alg: str = "ES256", keep: int = 2) -> dict[str, Any]:
    """Add a new active key and keep the newest ``keep`` keys (the old active one keeps verifying)."""
    key = generate_key(alg)
    keys = [*document.get("keys", []), key][-keep:]
    return {"active_kid": key["kid"], "keys": keys}


def load_or_create_file(path: str) -> str:
    """Local mode: read the ring file, creating a fresh ES256 ring (mode 0600) when missing."""
    return read_or_create(path, lambda: json.dumps(new_ring_document()))


class KeyRingProvider:
    """Loads the ring lazily and caches it for ``max_age`` seconds (one load per container normally).

    ``loader`` returns the ring document; an unknown ``kid`` triggers one early reload (through
    ``fresh_loader`` when given, which must bypass any cache of its own) so that a key added by
    rotation is picked up before the cache expires, at most once a minute.

    A reload that fails (SSM throttling a scale-out burst, a network error) keeps serving the ring this
    container has and tries again after ``RETRY_SECONDS``: only a container that never loaded a ring
    fails. ``jitter`` (a fraction of ``max_age``) spreads the reloads of many containers started together.
    """

    RETRY_SECONDS = 10.0

    def __init__(
        self,
        loader: Callable[[], str],
        max_age: int = 300,
        clock: Clock = system_clock,
        fresh_loader: Callable[[], str] | None = None,
        jitter: float = 0.0,
    ) -> None:
        self._loader = loader
        self._fresh_loader = fresh_loader or loader
        self._max_age = max_age
        self._clock = clock
        self._jitter = jitter
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def ring(self, force: bool = False) -> KeyRing:
        now = self._clock()
        with self._lock:
            early = force and now - self._loaded_at > 60
            ring = self._ring
            if ring is None or now > self._expires_at or early:
                try:
                    ring = KeyRing.from_document(self._fresh_loader() if early else self._loader())
                except Exception:
                    if self._ring is None:
                        raise
                    from shared.observability import logger

                    logger.warning("signing key ring reload failed; serving the ring already loaded")
                    self._loaded_at = now if early else self._loaded_at
                    self._expires_at = now + self.RETRY_SECONDS
                    return self._ring
                spread = 1.0 - self._jitter * secrets.randbelow(1001) / 1000
                self._ring, self._loaded_at, self._expires_at = ring, now, now + self._max_age * spread
            return ring

    def key_for(self, kid: str) -> SigningKey | None:
        key = self.ring().keys.get(kid)
        if key is None:
            key = self.ring(force=True).keys.get(kid)
        return key


SSM_JITTER = 0.2  # containers reload within the last 20 % of the cache time, not all at once


def provider_from_settings(settings: Any, clock: Clock = system_clock) -> KeyRingProvider:
    """Pick the ring source: inline JSON, then SSM parameter, then local file.

    Raises:
        ConfigurationError: no source is configured.
    """
    max_age = settings.signing_keys_cache_seconds
    if settings.signing_keys_json:
        document = settings.signing_keys_json
        return KeyRingProvider(lambda: document, max_age, clock)
    if settings.signing_keys_parameter:
        name = settings.signing_keys_parameter

        def from_ssm(force_fetch: bool = False) -> str:
            from aws_lambda_powertools.utilities import parameters

            value = parameters.get_parameter(name, decrypt=True, max_age=max_age, force_fetch=force_fetch)
            return str(value)

        return KeyRingProvider(
            from_ssm, max_age, clock, fresh_loader=lambda: from_ssm(force_fetch=True), jitter=SSM_JITTER
        )
    if settings.signing_keys_file:
        path = settings.signing_keys_file
        return KeyRingProvider(lambda: load_or_create_file(path), max_age, clock)
    raise ConfigurationError("no signing keys configured (SIGNING_KEYS_PARAMETER or SIGNING_KEYS_FILE)")
