"""The signing key ring: the public JWKS, the local key file, and malformed ring documents."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.config import Settings
from shared.errors import ConfigurationError
from shared.services.signing_keys import (
    KeyRing,
    KeyRingProvider,
    generate_key,
    load_or_create_file,
    new_ring_document,
    provider_from_settings,
)
from shared.services.tokens import TokenService
from tests.fakes.clock import FakeClock
from tests.unit.helpers import b64url_decode

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(scope="module")
def mixed_document() -> dict[str, Any]:
    """A ring with an RSA key (old) and an EC key (active)."""
    rsa_key = generate_key("RS256")
    ec_key = generate_key("ES256")
    return {"active_kid": ec_key["kid"], "keys": [rsa_key, ec_key]}


def pem(private_key: Any) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- JWKS -----------------------------------------------------------------------------------------


def test_jwks_publishes_every_key_without_private_members(mixed_document):
    # Given a ring with an RSA and an EC key
    ring = KeyRing.from_document(mixed_document)

    # When the JWKS is built
    jwks = ring.jwks()

    # Then it lists both keys, by kid, and no private member appears anywhere
    assert {k["kid"] for k in jwks["keys"]} == {k["kid"] for k in mixed_document["keys"]}
    for jwk in jwks["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
    assert "PRIVATE" not in json.dumps(jwks)


def test_ec_jwk_has_the_rfc7518_members(mixed_document):
    ring = KeyRing.from_document(mixed_document)
    jwk = next(k for k in ring.jwks()["keys"] if k["kty"] == "EC")

    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["crv"], jwk["alg"], jwk["use"]) == ("P-256", "ES256", "sig")
    numbers = ring.keys[jwk["kid"]].public_key.public_numbers()
    # Coordinates are 32-byte big-endian, base64url without padding
    assert "=" not in jwk["x"] + jwk["y"]
    assert b64url_decode(jwk["x"]) == numbers.x.to_bytes(32, "big")
    assert b64url_decode(jwk["y"]) == numbers.y.to_bytes(32, "big")


def test_rsa_jwk_has_the_rfc7518_members(mixed_document):
    ring = KeyRing.from_document(mixed_document)
    jwk = next(k for k in ring.jwks()["keys"] if k["kty"] == "RSA")

    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["alg"], jwk["use"]) == ("RS256", "sig")
    assert int.from_bytes(b64url_decode(jwk["e"]), "big") == 65537
    assert int.from_bytes(b64url_decode(jwk["n"]), "big") == ring.keys[jwk["kid"]].public_key.public_numbers().n


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_relying_party_verifies_tokens_with_the_published_jwk_alone(alg: str):
    # Given a ring and a token it issued
    document = json.dumps(new_ring_document(alg))
    clock = FakeClock()
    tokens = TokenService(
        KeyRingProvider(lambda: document, clock=clock), issuer="iss", audience="aud", access_ttl=60, clock=clock
    )
    token, _ = tokens.issue_access("u1", "s1", "app0", [])

    # When another service takes the key from the JWKS (as PyJWT's JWK client does)
    jwk = KeyRing.from_document(document).jwks()["keys"][0]
    public = jwt.PyJWK(jwk).key

    # Then the token verifies with it
    claims = jwt.decode(token, public, algorithms=[alg], audience="aud", issuer="iss", options={"verify_exp": False})
    assert claims["sub"] == "u1"


def test_ring_without_active_kid_signs_with_the_last_key():
    first, last = generate_key(), generate_key()
    ring = KeyRing.from_document({"keys": [first, last]})
    assert ring.active.kid == last["kid"]
    assert set(ring.keys) == {first["kid"], last["kid"]}


def test_ring_document_may_be_a_json_string():
    document = new_ring_document()
    ring = KeyRing.from_document(json.dumps(document))
    assert ring.active.kid == document["active_kid"]
    assert ring.active.alg == "ES256"


# -- the local key file ---------------------------------------------------------------------------


def test_load_or_create_file_creates_a_private_ring_file(tmp_path: Path):
    # Given no key file yet (not even its directory)
    path = tmp_path / ".local" / "signing-keys.json"

    # When local mode asks for the ring
    text = load_or_create_file(str(path))

    # Then a file readable only by its owner holds a usable ES256 ring
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == text
    ring = KeyRing.from_document(text)
    assert ring.active.alg == "ES256"


def test_load_or_create_file_reuses_the_existing_file(tmp_path: Path):
    # Given a ring file created on a first run
    path = tmp_path / "keys.json"
    first = load_or_create_file(str(path))

    # When a second run loads it
    second = load_or_create_file(str(path))

    # Then the same keys come back (tokens of the first run stay valid)
    assert second == first
    assert KeyRing.from_document(second).active.kid == KeyRing.from_document(first).active.kid


def test_load_or_create_file_never_overwrites_a_ring_it_did_not_create(tmp_path: Path):
    path = tmp_path / "keys.json"
    document = json.dumps(new_ring_document("RS256"))
    path.write_text(document)
    assert load_or_create_file(str(path)) == document


def test_provider_from_settings_prefers_inline_json_then_file(tmp_path: Path):
    inline = new_ring_document()
    settings = Settings(signing_keys_json=json.dumps(inline), signing_keys_file=str(tmp_path / "k.json"))
    assert provider_from_settings(settings).ring().active.kid == inline["active_kid"]
    assert not (tmp_path / "k.json").exists()

    from_file = provider_from_settings(Settings(signing_keys_file=str(tmp_path / "k.json")))
    assert from_file.ring().active.alg == "ES256"
    assert (tmp_path / "k.json").exists()


def test_provider_from_settings_without_a_source_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        provider_from_settings(Settings())


# -- malformed documents --------------------------------------------------------------------------


def _ec_pem() -> str:
    return generate_key("ES256")["private_key"]


MALFORMED: dict[str, Any] = {
    "not json": "{not json",
    "json list": "[]",
    "json null": "null",
    "no keys": "{}",
    "empty keys": {"keys": []},
    "keys not a list of objects (string)": {"keys": ["x"]},
    "keys not a list of objects (number)": {"keys": [1]},
    "missing private_key": {"keys": [{"kid": "a", "alg": "ES256"}]},
    "missing kid": {"keys": [{"alg": "ES256", "private_key": "PEM"}]},
    "private_key not a string": {"keys": [{"kid": "a", "alg": "ES256", "private_key": 5}]},
    "garbage pem": {"keys": [{"kid": "a", "alg": "ES256", "private_key": "-----BEGIN PRIVATE KEY-----\nxx"}]},
    "symmetric alg": {"keys": [{"kid": "a", "alg": "HS256", "private_key": "secret"}]},
    "alg none": {"keys": [{"kid": "a", "alg": "none", "private_key": "secret"}]},
    "active kid not in ring": {"active_kid": "zzz", "keys": [{"kid": "a", "alg": "ES256", "private_key": "PEM"}]},
}


@pytest.mark.parametrize("document", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_ring_documents_are_configuration_errors(document):
    # PEM placeholders are swapped for a real key so only the named defect remains.
    if isinstance(document, dict):
        document = json.loads(json.dumps(document).replace('"PEM"', json.dumps(_ec_pem())))
    with pytest.raises(ConfigurationError):
        KeyRing.from_document(document)


@pytest.mark.parametrize(
    ("alg", "make_key"),
    [
        ("ES256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("RS256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ("ES256", lambda: ec.generate_private_key(ec.SECP384R1())),
        ("ES256", ed25519.Ed25519PrivateKey.generate),
    ],
    ids=["rsa-key-labelled-ES256", "ec-key-labelled-RS256", "p384-key-labelled-ES256", "ed25519-labelled-ES256"],
)
def test_key_that_does_not_fit_its_algorithm_is_a_configuration_error(alg: str, make_key):
    # Given a ring entry whose key type cannot sign with the declared algorithm: a deployment mistake that
    # must fail when the ring loads, not as a 500 on the first sign-in (or a broken JWKS).
    document = {"keys": [{"kid": "k1", "alg": alg, "private_key": pem(make_key())}]}

    with pytest.raises(ConfigurationError):
        KeyRing.from_document(document)


class FlakyLoader:
    """A ring source that can start failing (SSM throttling a burst of new containers)."""

    def __init__(self, document: str) -> None:
        self.document = document
        self.failing = False
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failing:
            raise RuntimeError("ThrottlingException: Rate exceeded")
        return self.document


def test_a_failed_reload_keeps_serving_the_ring_and_retries_later() -> None:
    clock = FakeClock(1000.0)
    loader = FlakyLoader(json.dumps(new_ring_document()))
    provider = KeyRingProvider(loader, max_age=300, clock=clock)
    first = provider.ring()

    # When the cache expires while the source fails
    loader.failing = True
    clock.advance(301)

    # Then the container keeps the ring it has, and does not ask again on every request
    assert provider.ring() is first
    assert provider.ring() is first
    assert loader.calls == 2
    # And it tries again after the retry delay, picking up the source once it answers
    loader.failing = False
    clock.advance(KeyRingProvider.RETRY_SECONDS + 1)
    assert provider.ring() is not first
    assert loader.calls == 3


def test_a_container_that_never_loaded_a_ring_fails_loudly() -> None:
    loader = FlakyLoader("{}")
    loader.failing = True
    with pytest.raises(RuntimeError, match="Throttling"):
        KeyRingProvider(loader, clock=FakeClock(0.0)).ring()


def test_jitter_spreads_reloads_inside_the_cache_time() -> None:
    # Many containers started together reload at different times, none later than max_age
    reloads = set()
    for _ in range(20):
        clock = FakeClock(0.0)
        loader = FlakyLoader(json.dumps(new_ring_document()))
        provider = KeyRingProvider(loader, max_age=300, clock=clock, jitter=0.2)
        provider.ring()
        seconds = 0
        while loader.calls == 1:
            clock.advance(1)
            seconds += 1
            provider.ring()
        reloads.add(seconds)
    assert min(reloads) >= 240 and max(reloads) <= 301
    assert len(reloads) > 1
