"""The sign-in center's authorization code flow through its Authlib provider, below HTTP (issue 11):
request checks (never a redirect to an unchecked URI), prompt and max_age, code exchange with PKCE and
client authentication, replay revocation, and tokens the authorizer accepts."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import jwt
import pytest

from shared.center.protocol import Answer, EventRequest, Provider
from shared.container import Services
from shared.domain import ClientInfo
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from shared.services.auth_codes import s256
from shared.services.center import GrantRefused
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


def provider(services: Services, cookie: str | None = None) -> Provider:
    return Provider(services.center, services.sessions, ISSUER, services.tokens.keys.ring().jwks(), cookie)


def event(method: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> EventRequest:
    raw = {"httpMethod": method, "headers": headers or {}, "queryStringParameters": query}
    return EventRequest(raw, ISSUER + "/oauth2/x", {}, CLIENT)


def authorize(services: Services, params: dict[str, Any], cookie: str | None = None) -> Answer:
    """The authorization endpoint as the route runs it: the answer (a redirect) or the error raised."""
    server = provider(services, cookie)
    request = event("GET", params)
    prompt, max_age = params.get("prompt"), params.get("max_age")
    session = services.center.signed_in(cookie, prompt, int(max_age) if max_age and max_age.isdigit() else None)
    grant = server.get_consent_grant(request, end_user=session)
    assert session is not None, "the browser would see the sign-in page"
    answer: Answer = server.create_authorization_response(request, grant_user=session, grant=grant)
    return answer


def token(services: Services, form: dict[str, str], secret: str | None = None) -> Answer:
    headers = {}
    if secret is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{form['client_id']}:{secret}".encode()).decode()
    request = EventRequest({"httpMethod": "POST", "headers": headers}, ISSUER + "/oauth2/token", form, CLIENT)
    answer: Answer = provider(services).create_token_response(request)
    return answer


def code_of(answer: Answer) -> str:
    from tests.e2e.center_client import query_of

    assert answer.status == 302, answer
    return query_of(str(answer.location))["code"]


def exchange(
    services: Services, code: str, verifier: str, client_id: str = "shop", secret: str | None = None
) -> Answer:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": client_id}
    return token(services, {**form, "code_verifier": verifier}, secret)


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
        ({"code_challenge": "short"}, "invalid_request", True),
        ({"prompt": "consent"}, "invalid_request", True),
        ({"max_age": "-1"}, "invalid_request", True),
    ],
)
def test_bad_requests_are_refused_and_only_redirected_to_a_registered_uri(
    shop: Services, changes: dict[str, Any], error: str, redirect: bool
) -> None:
    from authlib.oauth2.rfc6749.errors import OAuth2Error

    cookie, _ = signed_in_browser(shop)
    with pytest.raises(OAuth2Error) as refused:
        authorize(shop, request(secrets.token_urlsafe(48), **changes), cookie)
    assert refused.value.error == error
    assert (refused.value.redirect_uri == CALLBACK) is redirect
    if not redirect:
        assert refused.value.redirect_uri is None


def test_the_code_flow_gives_tokens_the_authorizer_accepts_and_an_id_token(shop: Services) -> None:
    cookie, user_id = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    answer = authorize(shop, request(verifier), cookie)
    assert "iss=" in str(answer.location) and "state=st-1" in str(answer.location)
    tokens = exchange(shop, code_of(answer), verifier)
    assert tokens.status == 200, tokens.body

    # The access token is the shop app's, the authorizer's kind
    claims, session = shop.sessions.verify(tokens.body["access_token"])
    assert (claims.user_id, claims.app_name) == (user_id, "shop")
    assert session.scope == ["openid", "profile", "email"]
    # The ID token is for the client, with the request's nonce and the center session's sid
    center = shop.center_sessions.current(cookie)
    assert center is not None
    id_claims = jwt.decode(tokens.body["id_token"], options={"verify_signature": False})
    assert (id_claims["aud"], id_claims["iss"], id_claims["nonce"], id_claims["sid"]) == (
        "shop",
        ISSUER,
        "n-1",
        center.sid,
    )
    assert id_claims["email"] == "a@example.com" and tokens.body["token_type"] == "Bearer"
    # And single logout will find the app session
    ended = shop.center_sessions.end(cookie)
    assert ended is not None and ended.clients == {"shop": claims.session_id}


def test_a_replayed_code_is_refused_and_ends_what_it_opened(shop: Services) -> None:
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    code = code_of(authorize(shop, request(verifier), cookie))
    tokens = exchange(shop, code, verifier)
    replay = exchange(shop, code, verifier)
    assert (replay.status, replay.body["error"]) == (400, "invalid_grant")
    from shared.errors import TokenRevokedError

    with pytest.raises(TokenRevokedError):
        shop.sessions.verify(tokens.body["access_token"])


def test_a_code_is_bound_to_its_client_and_verifier(shop: Services) -> None:
    shop.apps.create(AppBody(app_name="blog", redirect_uris=[CALLBACK]))
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    code = code_of(authorize(shop, request(verifier), cookie))
    assert exchange(shop, code, verifier, client_id="blog").body["error"] == "invalid_grant"
    assert exchange(shop, code, verifier).body["error"] == "invalid_grant"  # used up by the first try
    code = code_of(authorize(shop, request(verifier), cookie))
    assert exchange(shop, code, secrets.token_urlsafe(48)).body["error"] == "invalid_grant"


def test_prompt_none_and_login_and_max_age(shop: Services, clock) -> None:
    from authlib.oidc.core.errors import LoginRequiredError

    verifier = secrets.token_urlsafe(48)
    with pytest.raises(LoginRequiredError) as no_session:
        provider(shop).get_consent_grant(event("GET", request(verifier, prompt="none")), end_user=None)
    assert no_session.value.redirect_uri == CALLBACK
    cookie, _ = signed_in_browser(shop)
    assert shop.center.signed_in(cookie, "login", None) is None
    clock.advance(120)
    assert shop.center.signed_in(cookie, None, 60) is None
    assert shop.center.signed_in(cookie, None, 600) is not None


def test_a_confidential_client_must_prove_its_secret(shop: Services) -> None:
    secret = shop.apps.update("shop", AppBody(client_type="confidential")).issued_client_secret
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    for presented in (None, "guess"):
        code = code_of(authorize(shop, request(verifier), cookie))
        refused = exchange(shop, code, verifier, secret=presented)
        assert (refused.status, refused.body["error"]) == (401, "invalid_client")
    code = code_of(authorize(shop, request(verifier), cookie))
    assert exchange(shop, code, verifier, secret=secret).status == 200


def test_a_code_whose_center_session_ended_gives_nothing(shop: Services) -> None:
    # Given a code issued to a signed-in browser, which then signs out at the center within the minute
    cookie, _ = signed_in_browser(shop)
    verifier = secrets.token_urlsafe(48)
    code = code_of(authorize(shop, request(verifier), cookie))
    shop.center_sessions.end(cookie)

    # When the client exchanges it, then it is refused: single logout must not miss a late app session
    assert exchange(shop, code, verifier).body["error"] == "invalid_grant"
    with pytest.raises(GrantRefused):
        shop.center.redeem(code, "shop", CALLBACK, verifier)


def test_a_password_sign_in_at_the_center_counts_and_clears_attempts_like_the_api(shop: Services) -> None:
    from shared.db import keys
    from shared.db.models import UserItem
    from shared.errors import InvalidCredentialsError

    alice = shop.accounts.register(RegisterCommand(username="alice", password=PASSWORD), CLIENT)
    for _ in range(2):
        with pytest.raises(InvalidCredentialsError):
            shop.accounts.verify_password("alice", "wrong password", "shop")

    def fails() -> int:
        item = UserItem.get(keys.user_pk(alice.user_id), keys.PROFILE, consistent_read=True)
        return int(item.login_fails or 0)

    assert fails() == 2
    record, _ = shop.accounts.verify_password("alice", PASSWORD, "shop")
    assert fails() == 3  # the right password reserved an attempt too, until its session is written
    cookie, session = shop.center.open(record, ["pwd"])
    assert fails() == 0 and shop.center_sessions.current(cookie) == session
