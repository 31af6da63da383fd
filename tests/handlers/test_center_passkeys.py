"""Passkeys on the sign-in center's pages (issue 13): the center function renders the button, autofill
hint and the skippable prompt; the passkeys function answers the page's script (CSRF-checked) and opens
the center session. A software authenticator stands in for the browser's WebAuthn."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.center import app as center
from functions.passkeys import app as passkeys
from shared import container
from shared.container import Services
from shared.domain import ClientInfo
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from shared.services.center_sessions import COOKIE
from tests.fakes.authenticator import SoftAuthenticator
from tests.handlers.conftest import headers_of
from tests.handlers.test_center_mfa import code_of
from tests.handlers.test_center_pages import post
from tests.handlers.test_center_wechat import AUTHORIZE, CALLBACK, CONTEXT, WECHAT_UA, cookies_set, request

ORIGIN = "http://127.0.0.1:3000"  # the handlers' requests come to this host
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


@pytest.fixture
def shop(make_services: Callable[..., Services]) -> Iterator[Services]:
    built = make_services()
    built.apps.create(AppBody(app_name="shop", redirect_uris=[CALLBACK], require_mfa="all"))
    built.accounts.register(RegisterCommand(username="alice", password="secret123"), ClientInfo())
    container.override(built)
    yield built
    container.override(None)


def script(
    path: str, page: dict[str, Any], cookies: dict[str, str], body: Any = None, token: str | None = None
) -> dict:
    """What the page's script posts: JSON, the page's CSRF token in X-CSRF-Token, from the center's origin."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page["body"])
    event = request(path, {}, cookies, ua=CHROME)
    event["httpMethod"] = "POST"
    event["headers"].update({"Content-Type": "application/json", "Origin": ORIGIN})
    event["headers"]["X-CSRF-Token"] = token if token is not None else (found.group(1) if found else "")
    event["body"] = json.dumps(body or {})
    return passkeys.lambda_handler(event, CONTEXT)


def get(path: str, query: dict[str, str], cookies: dict[str, str] | None = None, ua: str = CHROME) -> dict[str, Any]:
    return center.lambda_handler(request(path, query, cookies, ua=ua), CONTEXT)


def test_the_sign_in_page_offers_a_passkey_with_autofill_except_in_in_app_browsers(shop: Services) -> None:
    page = get("/oauth2/authorize", AUTHORIZE)
    assert 'autocomplete="username webauthn"' in page["body"] and 'class="passkey" hidden' in page["body"]
    assert 'data-verify="/center/passkeys/login"' in page["body"]
    for agent in (WECHAT_UA, "Mozilla/5.0 (Linux; Android 14; wv) AppleWebKit/537.36 Version/4.0 Chrome/120 Mobile"):
        inside = get("/oauth2/authorize", AUTHORIZE, ua=agent)
        assert inside["statusCode"] == 200 and "passkey-sign-in" not in inside["body"]
        assert 'autocomplete="username"' in inside["body"] and 'id="passkey-webview"' in inside["body"]
        assert 'href="/oauth2/authorize?' in inside["body"] and "tab=sms" in inside["body"]  # SMS offered instead


def test_add_a_passkey_after_a_sign_in_then_sign_in_with_it_alone(shop: Services, clock) -> None:
    import pyotp

    # a password, then (the app requires a second factor) enrolment; then the skippable passkey prompt
    page = get("/oauth2/authorize", AUTHORIZE)
    asked, cookies = post(page, cookies_set(page), method="password", username="alice", password="secret123")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', asked["body"]).group(1)  # type: ignore[union-attr]
    saved, cookies = post(asked, cookies, mfa_code=pyotp.TOTP(secret).at(clock()))
    onward = re.search(r'id="continue" href="([^"]+)"', saved["body"]).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert onward.startswith("/oauth2/authorize?")
    # sign in again with the password and a code: the prompt comes (once per browser, to someone without one)
    clock.advance(30)
    page = get("/oauth2/authorize", {**AUTHORIZE, "prompt": "login"}, cookies)
    asked, cookies = post(
        page, {**cookies, **cookies_set(page)}, method="password", username="alice", password="secret123"
    )
    prompt, cookies = post(asked, cookies, mfa_code=pyotp.TOTP(secret).at(clock()))
    assert prompt["statusCode"] == 200 and 'id="passkey-skip"' in prompt["body"] and COOKIE in cookies
    skip = re.search(r'id="passkey-skip" href="([^"]+)"', prompt["body"]).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert skip.startswith("/oauth2/authorize?")
    device = SoftAuthenticator(ORIGIN)
    options = script("/center/passkeys/register/options", prompt, cookies)
    assert options["statusCode"] == 200, options["body"]
    made = device.create(json.loads(options["body"])["data"]["publicKey"])
    added = script("/center/passkeys/register", prompt, cookies, {"credential": made})
    assert added["statusCode"] == 201, added["body"]
    # a new browser: the passkey alone signs in (two factors: no TOTP step, even for this app)
    fresh = get("/oauth2/authorize", AUTHORIZE)
    browser = cookies_set(fresh)
    login = script("/center/passkeys/login/options", fresh, browser)
    data = json.loads(login["body"])["data"]
    done = script(
        "/center/passkeys/login",
        fresh,
        browser,
        {"challenge_id": data["challenge_id"], "credential": device.get(data["publicKey"])},
    )
    assert done["statusCode"] == 200, done["body"]
    browser.update(cookies_set(done))
    session = shop.center_sessions.current(browser[COOKIE])
    assert session is not None and "mfa" in session.amr and "hwk" in session.amr
    code_of(get("/oauth2/authorize", AUTHORIZE, browser))
    # the account page lists it, and removes it
    account = get("/account", {}, browser)
    assert device.passkey_id in account["body"] and 'value="passkey_remove"' in account["body"]
    removed, _ = post(
        account, {**browser, **cookies_set(account)}, method="passkey_remove", passkey_id=device.passkey_id
    )
    assert removed["statusCode"] == 200 and shop.passkey_records.of_user(session.user_id) == []


def test_the_page_script_calls_need_the_page_token_and_a_center_session(shop: Services) -> None:
    page = get("/oauth2/authorize", AUTHORIZE)
    cookies = cookies_set(page)
    assert script("/center/passkeys/login/options", page, cookies, token="forged")["statusCode"] == 403
    assert script("/center/passkeys/login/options", page, {})["statusCode"] == 403  # no cookie to match
    assert script("/center/passkeys/register/options", page, cookies)["statusCode"] == 401  # nobody signed in
    other_site = request("/center/passkeys/login/options", {}, cookies, ua=CHROME)
    other_site["httpMethod"] = "POST"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page["body"]).group(1)  # type: ignore[union-attr]
    other_site["headers"].update({"Origin": "https://evil.example.com", "X-CSRF-Token": token})
    answer = passkeys.lambda_handler(other_site, CONTEXT)
    assert answer["statusCode"] == 403 and "Set-Cookie" not in headers_of(answer)
