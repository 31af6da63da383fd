"""OpenID Connect pieces of the sign-in center (issue 11): discovery, standard claims by scope, ID tokens
verifiable with the published JWKS."""

from __future__ import annotations

import json

import jwt
import pytest

from shared.container import Services
from shared.domain import User
from shared.services.oidc import IdTokens, discovery, standard_claims
from tests.fakes.clock import FakeClock

ISSUER = "https://id.example.com"
ALICE = User(
    user_id="u-alice",
    username="alice",
    nickname="Ali",
    real_name="Alice Zhang",
    email="alice@example.com",
    email_verified=True,
    phone="+8613800138000",
    avatar="https://cdn.example.com/a.png",
    created_at=1_790_000_000,
    password_hash="$2b$04$never-in-a-claim",
)


def test_discovery_names_every_endpoint_under_the_issuer_and_only_s256() -> None:
    document = discovery(ISSUER, ["ES256"])
    assert document["issuer"] == ISSUER
    endpoints = [v for k, v in document.items() if k.endswith(("_endpoint", "_uri"))]
    assert endpoints and all(str(v).startswith(ISSUER + "/") for v in endpoints)
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]


@pytest.mark.parametrize(
    ("scope", "present", "absent"),
    [
        (["openid"], {"sub"}, {"name", "email", "phone_number"}),
        (["openid", "profile"], {"name", "preferred_username", "picture"}, {"email", "phone_number"}),
        (["openid", "email"], {"email", "email_verified"}, {"name", "phone_number"}),
        (["openid", "phone"], {"phone_number", "phone_number_verified"}, {"email"}),
    ],
)
def test_a_scope_releases_its_claims_and_no_others(scope: list[str], present: set[str], absent: set[str]) -> None:
    claims = standard_claims(ALICE, scope)
    assert present <= set(claims) and not absent & set(claims)
    assert claims["sub"] == "u-alice" and "never-in-a-claim" not in json.dumps(claims)


def test_id_tokens_verify_with_the_published_keys_and_carry_the_request(services: Services, clock: FakeClock) -> None:
    tokens = IdTokens(services.tokens.keys, clock)
    signed_in_at = int(clock()) - 30
    token = tokens.issue(
        ISSUER,
        ALICE,
        "shop",
        auth_time=signed_in_at,
        sid="cs-1",
        amr=["pwd"],
        scope=["openid", "email"],
        nonce="n-1",
    )
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in services.tokens.keys.ring().jwks()["keys"] if k["kid"] == header["kid"])
    key, unexpired = jwt.PyJWK(jwk).key, {"verify_exp": False}
    claims = jwt.decode(token, key, algorithms=[jwk["alg"]], audience="shop", issuer=ISSUER, options=unexpired)
    assert (claims["sub"], claims["nonce"], claims["sid"], claims["amr"]) == ("u-alice", "n-1", "cs-1", ["pwd"])
    assert claims["email"] == "alice@example.com" and "name" not in claims
    assert claims["exp"] - claims["iat"] == 300 and claims["auth_time"] == signed_in_at
    # And another client cannot take it for its own
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=[jwk["alg"]], audience="other", options=unexpired)
