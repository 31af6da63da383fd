"""The sign-in center's authorization code flow below HTTP (issue 11): request checks (never a redirect
to an unchecked URI), prompt and max_age, code exchange with PKCE and client authentication, replay
revocation, and tokens the authorizer accepts."""

from __future__ import annotations

import secrets
from typing import Any

import jwt
import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from shared.services.auth_codes import s256
from shared.services.center import RequestRefused
from tests.unit.helpers import PASSWORD

ISSUER = "https://id.example.com"
CALLBACK = "https://shop.example.com/cb"
CLIENT = ClientInfo(ip="203.0.113.5", user_agent="browser")


@pytest.fixture
def shop(services: Services) -> Services:
    services.apps.create(AppBody(app_name="shop", redirect_uris=[CALLBACK]))
    return services


def request(verifier: str, **changes: Any) -> dict[str, Any]:
    params = {
        "client_id": "shop",
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile email",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def signed_in_browser(services: Services) -> tuple[str, str]:
    """A user who signed in at the center: their center cookie value and user id."""
    alice = services.accounts.register(
        RegisterCommand(username="alice", password=PASSWORD, email="a@example.com"), CLIENT
    )
    value, _ = services.center_sessions.open(alice.user_id, services.accounts.item(alice.user_id).rev, ["pwd"])
    return value, alice.user_id


@pytest.mark.parametrize(
    ("changes", "error", "redirect"),
    [
        ({"client_id": "nobody"}, "invalid_client", False),
        ({"client_id": "bad name!"}, "invalid_client", False),
        ({"redirect_uri": CALLBACK + "/other"}, "invalid_request", False),
        ({"redirect_uri": None}, "invalid_request", False),
        ({"response_type": "token"}, "unsupported_response_type", True),
        ({"scope": "profile"}, "invalid_scope", True),
        ({"code_challenge": None}, "invalid_request", True),
        ({"code_challenge_method": "plain"}, "invalid_request", True),
        ({"code_challenge_method": None}, "invalid_request", True),
        ({"prompt": "consent"}, "invalid_request", True),
        ({"max_age": "-1"}, "invalid_request", True),
    ],
)
def test_bad_requests_are_refused_and_only_redirected_to_a_registered_uri(
    shop: Services, changes: dict[str, Any], error: str, redirect: bool
) -> None:
    with pytest.raises(RequestRefused) as refused:
        shop.center.check_request(request(secrets.token_urlsafe(48), **changes))
    assert (refused.value.error, refused.value.redirect) == (error, redirect)


def test_the_code_flow_gives_tokens_the_authorizer_accepts_and_an_id_token(shop: Services) -> None:
    cookie, user_id = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    checked = shop.center.check_request(request(verifier))
    session = shop.center.signed_in(checked, cookie)
    assert session is not None and session.user_id == user_id
    code = shop.center.issue_code(checked, session)

    client = shop.center.authenticate_client("shop", None)
    tokens = shop.center.exchange(ISSUER, client, code, CALLBACK, verifier, CLIENT)

    # The access token is the shop app's, the authorizer's kind
    claims, _ = shop.sessions.verify(tokens.access_token)
    assert (claims.user_id, claims.app_name) == (user_id, "shop")
    # The ID token is for the client, with the request's nonce and the center session's sid
    id_claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    assert (id_claims["aud"], id_claims["iss"], id_claims["nonce"], id_claims["sid"]) == (
        "shop",
        ISSUER,
        "n-1",
        session.sid,
    )
    assert id_claims["email"] == "a@example.com" and tokens.as_data()["token_type"] == "Bearer"
    # And single logout will find the app session
    ended = shop.center_sessions.end(cookie)
    assert ended is not None and ended.clients == {"shop": claims.session_id}


def test_a_replayed_code_is_refused_and_ends_what_it_opened(shop: Services) -> None:
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    checked = shop.center.check_request(request(verifier))
    code = shop.center.issue_code(checked, shop.center.signed_in(checked, cookie))  # type: ignore[arg-type]
    client = shop.center.authenticate_client("shop", None)
    tokens = shop.center.exchange(ISSUER, client, code, CALLBACK, verifier, CLIENT)
    with pytest.raises(RequestRefused) as replay:
        shop.center.exchange(ISSUER, client, code, CALLBACK, verifier, CLIENT)
    assert replay.value.error == "invalid_grant"
    from shared.errors import TokenRevokedError

    with pytest.raises(TokenRevokedError):
        shop.sessions.verify(tokens.access_token)


def test_prompt_none_and_login_and_max_age(shop: Services, clock) -> None:
    verifier = secrets.token_urlsafe(48)
    with pytest.raises(RequestRefused) as no_session:
        shop.center.signed_in(shop.center.check_request(request(verifier, prompt="none")), None)
    assert (no_session.value.error, no_session.value.redirect) == ("login_required", True)
    cookie, _ = signed_in_browser(shop)
    assert shop.center.signed_in(shop.center.check_request(request(verifier, prompt="login")), cookie) is None
    clock.advance(120)
    assert shop.center.signed_in(shop.center.check_request(request(verifier, max_age="60")), cookie) is None
    assert shop.center.signed_in(shop.center.check_request(request(verifier, max_age="600")), cookie) is not None


def test_a_confidential_client_must_prove_its_secret(shop: Services) -> None:
    secret = shop.apps.update("shop", AppBody(client_type="confidential")).issued_client_secret
    with pytest.raises(RequestRefused) as anonymous:
        shop.center.authenticate_client("shop", None)
    assert (anonymous.value.error, anonymous.value.status) == ("invalid_client", 401)
    with pytest.raises(RequestRefused):
        shop.center.authenticate_client("shop", "guess")
    assert shop.center.authenticate_client("shop", secret).app_name == "shop"


def test_a_code_whose_center_session_ended_gives_nothing(shop: Services) -> None:
    # Given a code issued to a signed-in browser, which then signs out at the center within the minute
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    checked = shop.center.check_request(request(verifier))
    code = shop.center.issue_code(checked, shop.center.signed_in(checked, cookie))  # type: ignore[arg-type]
    shop.center_sessions.end(cookie)

    # When the client exchanges it, then it is refused: single logout must not miss a late app session
    client = shop.center.authenticate_client("shop", None)
    with pytest.raises(RequestRefused) as refused:
        shop.center.exchange(ISSUER, client, code, CALLBACK, verifier, CLIENT)
    assert refused.value.error == "invalid_grant"
