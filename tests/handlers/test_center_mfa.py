"""The second step at the sign-in center (issue 13), through the center function: the code page after a
password, a recovery code instead, enrolment where the app requires it (recovery codes shown once), the
step-up of a single sign-on session, and the account page's second factor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pyotp
import pytest

from functions.center import app as center
from shared import container
from shared.container import Services
from shared.domain import ClientInfo
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from shared.services.center_sessions import COOKIE
from tests.fakes.clock import FakeClock
from tests.handlers.conftest import headers_of
from tests.handlers.test_center_pages import post
from tests.handlers.test_center_wechat import AUTHORIZE, CALLBACK, CONTEXT, cookies_set, request

MFA_COOKIE = "__Host-uc_mfa"


@pytest.fixture
def shop(make_services: Callable[..., Services]) -> Iterator[Services]:
    built = make_services()
    built.apps.create(AppBody(app_name="shop", redirect_uris=[CALLBACK]))
    built.apps.create(AppBody(app_name="vault", redirect_uris=[CALLBACK], require_mfa="all"))
    container.override(built)
    yield built
    container.override(None)


def user(
    services: Services, name: str, clock: FakeClock, totp: bool = True
) -> tuple[str, pyotp.TOTP | None, list[str]]:
    user_id = services.accounts.register(RegisterCommand(username=name, password="secret123"), ClientInfo()).user_id
    if not totp:
        return user_id, None, []
    setup = services.mfa.setup(user_id)
    generator = pyotp.TOTP(setup.secret)
    codes = services.mfa.confirm(user_id, generator.at(clock()), ClientInfo())
    clock.advance(30)
    return user_id, generator, codes


def page(query: dict[str, str], cookies: dict[str, str] | None = None) -> dict[str, Any]:
    return center.lambda_handler(request("/oauth2/authorize", query, cookies), CONTEXT)


def password(client: str = "shop", name: str = "alice") -> tuple[dict[str, Any], dict[str, str]]:
    first = page({**AUTHORIZE, "client_id": client})
    return post(first, cookies_set(first), method="password", username=name, password="secret123")


def alert(response: dict[str, Any]) -> str:
    found = re.findall(r'role="alert">([^<]*)', response["body"])
    return found[0] if found else ""


def code_of(response: dict[str, Any], cookies: dict[str, str] | None = None) -> str:
    """The code the client gets; after a first sign-in in this browser, past the passkey prompt ("Not
    now": the authorization request again, answered from the center session now set)."""
    skip = re.search(r'id="passkey-skip" href="([^"]+)"', response["body"] or "")
    if response["statusCode"] == 200 and skip and cookies is not None:
        path, _, query = skip.group(1).replace("&amp;", "&").partition("?")
        response = center.lambda_handler(request(path, dict(parse_qsl(query)), cookies), CONTEXT)
    assert response["statusCode"] == 302, response["body"][:400]
    location = headers_of(response)["Location"]
    assert location.startswith(CALLBACK)
    return parse_qs(urlsplit(location).query)["code"][0]


def test_a_password_is_followed_by_the_code_page_then_the_client_gets_its_code(
    shop: Services, clock: FakeClock
) -> None:
    _, generator, _ = user(shop, "alice", clock)
    assert generator is not None
    asked, cookies = password()
    assert (
        asked["statusCode"] == 200
        and 'name="mfa_code"' in asked["body"]
        and 'autocomplete="one-time-code"' in asked["body"]
    )
    assert MFA_COOKIE in cookies and COOKIE not in cookies  # no center session before the second factor
    assert cookies[MFA_COOKIE] not in asked["body"]  # the token stays in the cookie, never in the page
    wrong, cookies = post(asked, cookies, mfa_code="000000" if generator.now() != "000000" else "111111")
    assert wrong["statusCode"] == 400 and alert(wrong)
    done, cookies = post(wrong, cookies, mfa_code=generator.at(clock()))
    code_of(done, cookies)
    session = shop.center_sessions.current(cookies[COOKIE])
    assert session is not None and session.amr == ["pwd", "otp", "mfa"]


def test_a_recovery_code_instead_and_an_expired_step_starts_again(shop: Services, clock: FakeClock) -> None:
    _, generator, codes = user(shop, "alice", clock)
    _, cookies = password()
    recovery = page({**AUTHORIZE, "tab": "mfa_recovery"}, cookies)
    assert recovery["statusCode"] == 200 and 'autocapitalize="characters"' in recovery["body"]
    done, cookies = post(recovery, {**cookies, **cookies_set(recovery)}, mfa_code=codes[0])
    code_of(done, cookies)
    assert len(shop.accounts.item(shop.accounts.users.find_user_id(["UNAME#alice"]) or "").mfa.recovery_codes) == 9
    # five minutes later the waiting sign-in is gone: the sign-in page says so
    asked, cookies = password()
    clock.advance(301)
    late, _ = post(asked, cookies, mfa_code=generator.at(clock()) if generator else "")
    assert late["statusCode"] == 400 and 'name="password"' in late["body"] and alert(late)
    gone = page({**AUTHORIZE, "tab": "mfa"}, cookies)
    assert gone["statusCode"] == 400 and 'name="mfa_code"' not in gone["body"]


def test_an_app_that_requires_it_enrols_at_sign_in_and_shows_the_recovery_codes_once(
    shop: Services, clock: FakeClock
) -> None:
    user_id, _, _ = user(shop, "bob", clock, totp=False)
    asked, cookies = password("vault", "bob")
    assert asked["statusCode"] == 200 and 'class="qr"' in asked["body"]
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', asked["body"]).group(1)  # type: ignore[union-attr]
    again = page({**AUTHORIZE, "client_id": "vault", "tab": "mfa"}, cookies)  # reloaded: the same secret
    assert secret in again["body"]
    saved, cookies = post(asked, cookies, mfa_code=pyotp.TOTP(secret).at(clock()))
    assert saved["statusCode"] == 200, alert(saved) or saved["body"][:300]
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", saved["body"])
    assert len(codes) == 10 and COOKIE in cookies and shop.accounts.item(user_id).mfa.enabled
    onward = re.search(r'id="continue" href="([^"]+)"', saved["body"]).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    path, _, query = onward.partition("?")
    code_of(center.lambda_handler(request(path, dict(parse_qsl(query)), cookies), CONTEXT))


def test_single_sign_on_steps_up_for_an_app_that_requires_a_second_factor(shop: Services, clock: FakeClock) -> None:
    user(shop, "carol", clock, totp=False)
    signed, cookies = password("shop", "carol")
    code_of(signed, cookies)  # the shop does not require one
    vault = page({**AUTHORIZE, "client_id": "vault"}, cookies)
    assert vault["statusCode"] == 200 and 'name="password"' in vault["body"]  # sign in again, then enrol
    silent = page({**AUTHORIZE, "client_id": "vault", "prompt": "none"}, cookies)
    assert silent["statusCode"] == 302 and "error=login_required" in headers_of(silent)["Location"]


def test_the_account_page_sets_up_and_turns_off_the_second_factor(shop: Services, clock: FakeClock) -> None:
    user(shop, "dave", clock, totp=False)
    signed, cookies = password("shop", "dave")
    code_of(signed, cookies)
    account = center.lambda_handler(request("/account", {}, cookies), CONTEXT)
    assert account["statusCode"] == 200 and 'value="totp_setup"' in account["body"]
    shown, cookies = post(account, {**cookies, **cookies_set(account)}, method="totp_setup")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', shown["body"]).group(1)  # type: ignore[union-attr]
    wrong, cookies = post(shown, cookies, method="totp_confirm", mfa_code="12345")
    assert wrong["statusCode"] == 400 and secret in wrong["body"]  # the same secret, shown again
    generator = pyotp.TOTP(secret)
    on, cookies = post(wrong, cookies, method="totp_confirm", mfa_code=generator.at(clock()))
    assert on["statusCode"] == 200 and len(re.findall(r"<li><code>", on["body"])) == 10
    assert 'id="totp-state"' in on["body"]
    clock.advance(30)
    off, _ = post(on, cookies, method="totp_disable", mfa_code=generator.at(clock()))
    assert off["statusCode"] == 200 and 'value="totp_setup"' in off["body"]
