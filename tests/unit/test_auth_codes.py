"""Authorization codes of the sign-in center (issue 11): single use, 60 s, bound to client, redirect URI and
PKCE S256 verifier; a replay names the session to revoke; the table holds only the code's hash."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.container import Services
from shared.services.auth_codes import CodeGrant, InvalidGrantError, s256, valid_challenge
from tests.fakes.clock import FakeClock

REDIRECT = "https://shop.example.com/cb"


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def grant(challenge: str, **changes: object) -> CodeGrant:
    values: dict[str, object] = {
        "client_id": "shop",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "user_id": "u1",
        "center_session": "cs1",
        "sid": "sid1",
        "auth_time": 1_790_000_000,
        "scope": ["openid", "profile"],
        "nonce": "n-0S6_WzA2Mj",
        "amr": ["pwd"],
    }
    values.update(changes)
    return CodeGrant(**values)  # type: ignore[arg-type]


def test_s256_is_rfc_7636s_example() -> None:
    # RFC 7636 appendix B
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    ("challenge", "method", "ok"),
    [
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", True),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain", False),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None, False),
        (None, "S256", False),
        ("too-short", "S256", False),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", "S256", False),
    ],
)
def test_only_well_formed_s256_challenges_are_accepted(challenge: str | None, method: str | None, ok: bool) -> None:
    assert valid_challenge(challenge, method) is ok


def test_a_code_redeems_once_for_its_client_redirect_and_verifier(services: Services, scan_table) -> None:
    verifier = new_verifier()
    issued = grant(s256(verifier))
    code = services.auth_codes.issue(issued)

    # The table holds the code's hash, never the code
    dump = json.dumps(scan_table(), default=str)
    assert code not in dump and hashlib.sha256(code.encode()).hexdigest() in dump

    # Redeemed with everything right: the grant comes back, once
    assert services.auth_codes.redeem(code, "shop", REDIRECT, verifier) == issued
    services.auth_codes.opened(code, "session-1")
    with pytest.raises(InvalidGrantError) as replay:
        services.auth_codes.redeem(code, "shop", REDIRECT, verifier)
    # And the replay names the session to revoke
    assert replay.value.replayed_session == "session-1"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "verifier"),
    [
        ("other-client", REDIRECT, None),
        ("shop", REDIRECT + "/", None),
        ("shop", "https://SHOP.example.com/cb", None),
        ("shop", REDIRECT, "wrong-verifier-" + "x" * 40),
        ("shop", REDIRECT, ""),
        ("shop", None, None),
    ],
)
def test_any_mismatch_is_invalid_grant_and_uses_the_code_up(
    services: Services, client_id: str, redirect_uri: str | None, verifier: str | None
) -> None:
    right = new_verifier()
    code = services.auth_codes.issue(grant(s256(right)))
    with pytest.raises(InvalidGrantError) as refused:
        services.auth_codes.redeem(code, client_id, redirect_uri, right if verifier is None else verifier)
    assert refused.value.replayed_session is None
    # The code is gone even for the right caller now
    with pytest.raises(InvalidGrantError):
        services.auth_codes.redeem(code, "shop", REDIRECT, right)


def test_a_code_expires_after_60_seconds(services: Services, clock: FakeClock) -> None:
    verifier = new_verifier()
    code = services.auth_codes.issue(grant(s256(verifier)))
    clock.advance(60)
    with pytest.raises(InvalidGrantError):
        services.auth_codes.redeem(code, "shop", REDIRECT, verifier)


def test_unknown_codes_and_plain_verifiers_are_refused(services: Services) -> None:
    verifier = new_verifier()
    with pytest.raises(InvalidGrantError):
        services.auth_codes.redeem(base64.urlsafe_b64encode(b"x" * 32).decode(), "shop", REDIRECT, verifier)
    # A client that sent its verifier as the challenge ("plain") cannot redeem
    code = services.auth_codes.issue(grant(verifier[:43]))
    with pytest.raises(InvalidGrantError):
        services.auth_codes.redeem(code, "shop", REDIRECT, verifier[:43])


def test_two_concurrent_redemptions_give_the_grant_to_exactly_one(services: Services) -> None:
    verifier = new_verifier()
    code = services.auth_codes.issue(grant(s256(verifier)))

    def redeem() -> bool:
        try:
            services.auth_codes.redeem(code, "shop", REDIRECT, verifier)
            return True
        except InvalidGrantError:
            return False

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: redeem(), range(8)))
    assert outcomes.count(True) == 1
