"""Access tokens (API.md section 3): ES256/RS256 with a kid, claims, and every way a token is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.errors import TokenExpiredError, TokenInvalidError
from shared.services.signing_keys import (
    KeyRing,
    KeyRingProvider,
    generate_key,
    new_ring_document,
    rotate_document,
)
from shared.services.tokens import TokenService
from tests.fakes.clock import FakeClock
from tests.unit.helpers import b64url, b64url_decode

ISSUER = "user-center"
AUDIENCE = "user-center"
TTL = 3600


class MutableRing:
    """A ring document that the test rotates; the provider's loader reads the current one and counts loads."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.loads = 0

    def load(self) -> str:
        self.loads += 1
        return json.dumps(self.document)


def make_tokens(
    provider: KeyRingProvider, clock: FakeClock, *, issuer: str = ISSUER, audience: str = AUDIENCE
) -> TokenService:
    return TokenService(provider, issuer=issuer, audience=audience, access_ttl=TTL, clock=clock)


@pytest.fixture
def ring() -> MutableRing:
    return MutableRing(new_ring_document())


@pytest.fixture
def provider(ring: MutableRing, clock: FakeClock) -> KeyRingProvider:
    return KeyRingProvider(ring.load, max_age=300, clock=clock)


@pytest.fixture
def tokens(provider: KeyRingProvider, clock: FakeClock) -> TokenService:
    return make_tokens(provider, clock)


def valid_claims(clock: FakeClock, **changes: Any) -> dict[str, Any]:
    now = int(clock())
    claims = {
        "sub": "u1",
        "sid": "s1",
        "app": "app0",
        "roles": ["l0"],
        "iat": now,
        "exp": now + TTL,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "j1",
        "typ": "access",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign_with_active(provider: KeyRingProvider, claims: dict[str, Any], **header: Any) -> str:
    """A token signed correctly by the ring's active key, with whatever claims the test wants."""
    key = provider.ring().active
    return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, **header})


# -- issue and verify -----------------------------------------------------------------------------


def test_issued_token_carries_every_contract_claim(tokens: TokenService, provider: KeyRingProvider, clock):
    # Given a token service with an ES256 ring
    active = provider.ring().active

    # When an access token is issued
    token, expires_in = tokens.issue_access("user-1", "sess-1", "app0", ["l0", "admin"])

    # Then the header names the algorithm and the active kid
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == active.kid
    # And the signature verifies with the public key alone, with every claim of API.md section 3
    claims = jwt.decode(token, active.public_key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    assert set(claims) >= {"sub", "sid", "app", "roles", "iat", "exp", "iss", "aud", "jti", "typ"}
    assert claims["sub"] == "user-1"
    assert claims["sid"] == "sess-1"
    assert claims["app"] == "app0"
    assert claims["roles"] == ["l0", "admin"]
    assert claims["typ"] == "access"
    assert claims["iat"] == int(clock())
    assert claims["exp"] - claims["iat"] == expires_in == TTL
    assert claims["jti"]


def test_every_token_gets_its_own_jti(tokens: TokenService):
    first, _ = tokens.issue_access("u", "s", "app0", [])
    second, _ = tokens.issue_access("u", "s", "app0", [])
    assert (
        jwt.decode(first, options={"verify_signature": False})["jti"]
        != jwt.decode(second, options={"verify_signature": False})["jti"]
    )


def test_verify_returns_the_claims(tokens: TokenService):
    # Given a freshly issued token
    token, _ = tokens.issue_access("user-1", "sess-1", "app7", ["editor"])

    # When it is verified
    claims = tokens.verify_access(token)

    # Then the typed claims match what was issued
    assert (claims.user_id, claims.session_id, claims.app_name, claims.roles) == (
        "user-1",
        "sess-1",
        "app7",
        ["editor"],
    )
    assert claims.raw["typ"] == "access"


# -- refused tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "x" * 5000],
)
def test_garbage_is_refused(tokens: TokenService, garbage: str):
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(garbage)


def test_alg_none_token_is_refused(tokens: TokenService, provider: KeyRingProvider, clock):
    # Given an unsigned token (alg none) naming the ring's real kid, with otherwise perfect claims
    kid = provider.ring().active.kid
    unsigned = f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64url(valid_claims(clock))}."

    # When / Then it is refused
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(unsigned)


def test_alg_none_with_the_original_signature_is_refused(tokens: TokenService):
    # Given a real token whose header is rewritten to alg none (signature kept)
    token, _ = tokens.issue_access("u", "s", "app0", [])
    header_b64, payload_b64, signature = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    forged = f"{b64url({**header, 'alg': 'none'})}.{payload_b64}.{signature}"

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(forged)


def test_hs256_signed_with_the_public_key_pem_is_refused(tokens: TokenService, provider: KeyRingProvider, clock):
    # Given the public key PEM (which anyone can get from the JWKS) used as an HMAC secret
    active = provider.ring().active
    pem = active.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64url({"alg": "HS256", "typ": "JWT", "kid": active.kid})
    payload = b64url(valid_claims(clock, roles=["admin"]))
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{b64url(signature)}"
    # (the forgery is a well-formed HS256 token under that secret)
    assert hmac.compare_digest(
        b64url_decode(forged.split(".")[2]), hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    )

    # When / Then the algorithm-confusion token is refused
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(forged)


def test_tampered_payload_is_refused(tokens: TokenService):
    # Given a real token whose payload is edited to claim the admin role (signature kept)
    token, _ = tokens.issue_access("u", "s", "app0", ["l0"])
    header_b64, payload_b64, signature = token.split(".")
    claims = json.loads(b64url_decode(payload_b64))
    tampered = f"{header_b64}.{b64url({**claims, 'roles': ['admin']})}.{signature}"

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(tampered)


def test_tampered_signature_is_refused(tokens: TokenService):
    token, _ = tokens.issue_access("u", "s", "app0", ["l0"])
    header_b64, payload_b64, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[5] ^= 0x01
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(f"{header_b64}.{payload_b64}.{b64url(bytes(raw))}")


def test_unknown_kid_is_refused(tokens: TokenService, clock):
    # Given a token signed by a key that is not in the ring, under its own kid
    stranger = KeyRing.from_document(new_ring_document()).active
    token = jwt.encode(valid_claims(clock), stranger.private_key, algorithm="ES256", headers={"kid": stranger.kid})

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


def test_foreign_key_claiming_the_rings_kid_is_refused(tokens: TokenService, provider: KeyRingProvider, clock):
    # Given a token signed by a stranger's key but naming the ring's kid
    stranger = KeyRing.from_document(new_ring_document()).active
    kid = provider.ring().active.kid
    token = jwt.encode(valid_claims(clock), stranger.private_key, algorithm="ES256", headers={"kid": kid})

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


@pytest.mark.parametrize("kid", [None, 7, ["k"]])
def test_missing_or_non_string_kid_is_refused(tokens: TokenService, provider: KeyRingProvider, clock, kid):
    # Given a correctly signed token whose kid header is absent or not a string
    key = provider.ring().active
    header = {"alg": "ES256", "typ": "JWT"} if kid is None else {"alg": "ES256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(header)}.{b64url(valid_claims(clock))}"
    signature = jwt.get_algorithm_by_name("ES256").sign(signing_input.encode(), key.private_key)
    token = f"{signing_input}.{b64url(signature)}"

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


@pytest.mark.parametrize(("issuer", "audience"), [("someone-else", AUDIENCE), (ISSUER, "another-api")])
def test_wrong_issuer_or_audience_is_refused(
    tokens: TokenService, provider: KeyRingProvider, clock, issuer: str, audience: str
):
    # Given a token signed by the same key ring but for another issuer or audience
    foreign = make_tokens(provider, clock, issuer=issuer, audience=audience)
    token, _ = foreign.issue_access("u", "s", "app0", [])

    # When / Then this service refuses it
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


@pytest.mark.parametrize("missing", ["sub", "sid", "jti", "iat", "exp", "iss", "aud"])
def test_token_missing_a_required_claim_is_refused(tokens: TokenService, provider: KeyRingProvider, clock, missing):
    token = sign_with_active(provider, valid_claims(clock, **{missing: None}))
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


@pytest.mark.parametrize("typ", ["refresh", "id", "ACCESS", None])
def test_token_whose_typ_is_not_access_is_refused(tokens: TokenService, provider: KeyRingProvider, clock, typ):
    # Given a correctly signed token, unexpired, right iss/aud, but typ is not "access"
    token = sign_with_active(provider, valid_claims(clock, typ=typ))

    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


def test_token_with_non_list_roles_is_refused(tokens: TokenService, provider: KeyRingProvider, clock):
    token = sign_with_active(provider, valid_claims(clock, roles="admin"))
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(token)


def test_token_expires_at_exp(tokens: TokenService, clock: FakeClock):
    # Given a token with a one-hour lifetime
    token, ttl = tokens.issue_access("u", "s", "app0", [])

    # When the clock reaches one second before exp, it is still valid
    clock.advance(ttl - 1)
    assert tokens.verify_access(token).user_id == "u"

    # When the clock reaches exp, it is expired (not merely invalid)
    clock.advance(1)
    with pytest.raises(TokenExpiredError):
        tokens.verify_access(token)


def test_expired_token_with_a_bad_signature_is_invalid_not_expired(tokens: TokenService, clock: FakeClock):
    # An attacker must not learn anything from an unverified token: the signature is checked first.
    token, ttl = tokens.issue_access("u", "s", "app0", [])
    header_b64, payload_b64, signature = token.split(".")
    claims = json.loads(b64url_decode(payload_b64))
    forged = f"{header_b64}.{b64url({**claims, 'sub': 'victim'})}.{signature}"
    clock.advance(ttl + 10)
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(forged)


# -- RS256 and key rotation -----------------------------------------------------------------------


def test_rs256_ring_issues_and_verifies(clock: FakeClock):
    # Given a ring whose only key is RS256
    rs_ring = MutableRing(new_ring_document("RS256"))
    rs_tokens = make_tokens(KeyRingProvider(rs_ring.load, clock=clock), clock)

    # When a token is issued and verified
    token, _ = rs_tokens.issue_access("u", "s", "app0", ["l0"])

    # Then it is an RS256 token that verifies
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert rs_tokens.verify_access(token).roles == ["l0"]


def test_rs256_token_relabelled_es256_is_refused(clock: FakeClock):
    # Given an RS256 ring, and one of its tokens whose header claims ES256
    rs_ring = MutableRing(new_ring_document("RS256"))
    rs_tokens = make_tokens(KeyRingProvider(rs_ring.load, clock=clock), clock)
    token, _ = rs_tokens.issue_access("u", "s", "app0", [])
    header_b64, payload_b64, signature = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    relabelled = f"{b64url({**header, 'alg': 'ES256'})}.{payload_b64}.{signature}"

    with pytest.raises(TokenInvalidError):
        rs_tokens.verify_access(relabelled)


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    ring: MutableRing, provider: KeyRingProvider, tokens: TokenService, clock: FakeClock
):
    # Given a token signed before rotation
    old_kid = ring.document["active_kid"]
    old_token, _ = tokens.issue_access("u", "s", "app0", [])

    # When the ring is rotated and the cache has expired
    ring.document = rotate_document(ring.document)
    clock.advance(301)

    # Then new tokens carry the new kid
    new_token, _ = tokens.issue_access("u", "s", "app0", [])
    new_kid = jwt.get_unverified_header(new_token)["kid"]
    assert new_kid == ring.document["active_kid"] != old_kid
    # And both the old and the new token verify (nobody is logged out)
    assert tokens.verify_access(old_token).user_id == "u"
    assert tokens.verify_access(new_token).user_id == "u"


def test_token_of_a_pruned_key_is_refused(ring: MutableRing, tokens: TokenService, clock: FakeClock):
    # Given a token signed by the first key
    old_token, _ = tokens.issue_access("u", "s", "app0", [])
    first_kid = ring.document["active_kid"]

    # When the ring is rotated twice (keep=2 prunes the first key) and reloaded
    ring.document = rotate_document(ring.document)
    ring.document = rotate_document(ring.document)
    assert first_kid not in {k["kid"] for k in ring.document["keys"]}
    clock.advance(301)

    # Then the old token is refused although it has not expired
    with pytest.raises(TokenInvalidError):
        tokens.verify_access(old_token)


def test_rotate_document_keeps_the_newest_keys():
    document = new_ring_document()
    first = document["active_kid"]
    once = rotate_document(document)
    twice = rotate_document(once, keep=3)
    assert once["keys"][0]["kid"] == first
    assert once["active_kid"] == once["keys"][-1]["kid"] != first
    assert len(twice["keys"]) == 3
    assert twice["active_kid"] == twice["keys"][-1]["kid"]
    assert len(rotate_document(twice, keep=2)["keys"]) == 2


def test_provider_reloads_early_on_unknown_kid(ring: MutableRing, provider: KeyRingProvider, clock: FakeClock):
    # Given a verifier that loaded the ring once (its cache is good for 300 s)
    verifier = make_tokens(provider, clock)
    provider.ring()
    assert ring.loads == 1
    # And another instance that has already seen a rotation and signs with the new key
    ring.document = rotate_document(ring.document)
    signer = make_tokens(KeyRingProvider(lambda: json.dumps(ring.document), clock=clock), clock)
    new_token, _ = signer.issue_access("u", "s", "app0", [])

    # When a token with the unknown kid arrives more than a minute after the load (cache not yet stale)
    clock.advance(61)
    claims = verifier.verify_access(new_token)

    # Then the verifier reloaded early and accepted it
    assert claims.user_id == "u"
    assert ring.loads == 2


def test_provider_early_reload_happens_at_most_once_a_minute(
    ring: MutableRing, provider: KeyRingProvider, clock: FakeClock
):
    # Given a freshly loaded ring
    provider.ring()
    stranger = KeyRing.from_document(new_ring_document()).active

    # When unknown kids arrive within the minute after the load
    for _ in range(5):
        assert provider.key_for(stranger.kid) is None
        clock.advance(5)

    # Then nothing was reloaded (a flood of bogus kids cannot hammer the parameter store)
    assert ring.loads == 1
    # And after the minute one unknown kid triggers exactly one reload
    clock.advance(60)
    assert provider.key_for(stranger.kid) is None
    assert provider.key_for(stranger.kid) is None
    assert ring.loads == 2


def test_provider_reloads_when_its_cache_is_stale(ring: MutableRing, provider: KeyRingProvider, clock: FakeClock):
    first = provider.ring()
    assert provider.ring() is first
    clock.advance(301)
    ring.document = rotate_document(ring.document)
    assert provider.ring().active.kid == ring.document["active_kid"]
    assert ring.loads == 2


def test_generate_key_refuses_symmetric_algorithms():
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        generate_key("HS256")
