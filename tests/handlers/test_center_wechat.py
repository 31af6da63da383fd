"""WeChat at the sign-in center (issue 11), through the center function with a fake WeChat: the QR page
framed on the center's page (the official-account OAuth inside WeChat's browser), WeChat's redirect back
bound to the browser that started it, and the authorization request answered with a code after it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from functions.center import app as center
from localdev.workers import LambdaContext
from shared import container
from shared.container import Services
from shared.schemas import AppBody
from tests.fakes.wechat import fake_wechat
from tests.handlers.conftest import headers_of

CONTEXT = LambdaContext(function_name="center", aws_request_id="req-1")

SECRETS = {"wxweb": "web-secret", "wxmp": "mp-secret"}
CALLBACK = "https://shop.example.com/cb"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"


@pytest.fixture
def shop(make_services: Callable[..., Services]) -> Iterator[Services]:
    with fake_wechat(SECRETS) as wechat:
        built = make_services(wechat_api_base=wechat.url, wechat_timeout=1.0, wechat_secrets=json.dumps(SECRETS))
        ids = {"web_app_id": "wxweb", "mp_app_id": "wxmp"}
        built.apps.create(AppBody(app_name="shop", redirect_uris=[CALLBACK], wechat=ids))
        # An app with only an open-platform AppID: WeChat's own QR page, framed
        built.apps.create(AppBody(app_name="web", redirect_uris=[CALLBACK], wechat={"web_app_id": "wxweb"}))
        container.override(built)
        yield built
        container.override(None)


def request(
    path: str, query: dict[str, str], cookies: dict[str, str] | None = None, ua: str = "Chrome"
) -> dict[str, Any]:
    headers = {"Host": "127.0.0.1:3000", "User-Agent": ua, "Accept-Language": "zh-CN"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "dev",
            "domainName": "127.0.0.1",
            "resourcePath": path,
            "httpMethod": "GET",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


AUTHORIZE = {
    "client_id": "shop",
    "redirect_uri": CALLBACK,
    "response_type": "code",
    "scope": "openid profile",
    "state": "st-1",
    "code_challenge": CHALLENGE,
    "code_challenge_method": "S256",
}


def cookies_set(response: dict[str, Any]) -> dict[str, str]:
    values = (response.get("multiValueHeaders") or {}).get("Set-Cookie") or []
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in values}


def wechat_page(ua: str = "Chrome", client: str = "shop") -> tuple[dict[str, Any], dict[str, str]]:
    query = {**AUTHORIZE, "tab": "wechat", "client_id": client}
    response = center.lambda_handler(request("/oauth2/authorize", query, ua=ua), CONTEXT)
    assert response["statusCode"] == 200, response["body"][:300]
    return response, cookies_set(response)


def test_the_qr_page_is_framed_and_the_scan_comes_back_to_a_code(shop: Services, context) -> None:
    page, cookies = wechat_page(client="web")
    frame = re.search(r'<iframe class="wechat-qr" src="([^"]+)"', page["body"]).group(1)  # type: ignore[union-attr]
    url = urlsplit(frame.replace("&amp;", "&"))
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "open.weixin.qq.com" and url.path == "/connect/qrconnect"
    assert params["appid"] == "wxweb" and params["self_redirect"] == "false"
    assert unquote(params["redirect_uri"]) == "http://127.0.0.1:3000/center/wechat/callback"
    assert "frame-src https://open.weixin.qq.com" in headers_of(page)["Content-Security-Policy"]
    state = params["state"]

    # Another browser cannot finish this round trip (login CSRF): no cookie, no sign-in
    stolen = center.lambda_handler(request("/center/wechat/callback", {"code": "alice", "state": state}), context)
    assert stolen["statusCode"] == 403 and "__Host-uc_center" not in cookies_set(stolen)

    # The states are single use; this browser starts again and WeChat sends it back after the scan
    page, cookies = wechat_page(client="web")
    frame = re.search(r'<iframe class="wechat-qr" src="([^"]+)"', page["body"]).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(frame.replace("&amp;", "&")).query)["state"][0]
    back = center.lambda_handler(
        request(
            "/center/wechat/callback", {"code": "alice", "state": state}, {"__Host-uc_wx": cookies["__Host-uc_wx"]}
        ),
        context,
    )
    assert back["statusCode"] == 302, back["body"][:300]
    location = headers_of(back)["Location"]
    assert location.startswith("/oauth2/authorize?") and "tab=" not in location
    center_cookie = cookies_set(back)["__Host-uc_center"]
    again = center.lambda_handler(
        request(
            "/center/wechat/callback", {"code": "alice", "state": state}, {"__Host-uc_wx": cookies["__Host-uc_wx"]}
        ),
        context,
    )
    assert again["statusCode"] == 400  # the state was used

    # The authorization request, answered from the new center session: a code for the client
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == "web"
    answer = center.lambda_handler(request("/oauth2/authorize", query, {"__Host-uc_center": center_cookie}), context)
    assert answer["statusCode"] == 302 and headers_of(answer)["Location"].startswith(CALLBACK + "?code=")
    session = shop.center_sessions.current(center_cookie)
    assert session is not None and session.amr == ["wechat"]
    accounts = shop.accounts.item(session.user_id).accounts
    assert [(a.account_type, a.app_id, a.open_id) for a in accounts] == [("web", "wxweb", "o-wxweb-alice")]


def test_inside_wechat_the_page_offers_the_official_account_oauth(shop: Services, context) -> None:
    page, cookies = wechat_page(ua=WECHAT_UA)
    link = re.search(r'<a class="button" href="([^"]+)"', page["body"]).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    url = urlsplit(link)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (
        url.path == "/connect/oauth2/authorize" and params["appid"] == "wxmp" and params["scope"] == "snsapi_userinfo"
    )
    assert "<iframe" not in page["body"] and "__Host-uc_wx" in cookies
    back = center.lambda_handler(
        request(
            "/center/wechat/callback",
            {"code": "bob", "state": params["state"]},
            {"__Host-uc_wx": cookies["__Host-uc_wx"]},
            ua=WECHAT_UA,
        ),
        context,
    )
    assert back["statusCode"] == 302
    session = shop.center_sessions.current(cookies_set(back)["__Host-uc_center"])
    assert session is not None
    assert [a.account_type for a in shop.accounts.item(session.user_id).accounts] == ["mp"]


def test_the_password_tab_offers_wechat_without_starting_a_round_trip(shop: Services, context) -> None:
    page = center.lambda_handler(request("/oauth2/authorize", AUTHORIZE), context)
    assert page["statusCode"] == 200 and "open.weixin.qq.com" not in page["body"]
    assert "__Host-uc_wx" not in cookies_set(page)
    assert "tab=wechat" in page["body"].replace("&amp;", "&")  # the tab is offered


def test_linking_wechat_from_the_account_page_round_trips_through_wechat(
    make_services: Callable[..., Services], context
) -> None:
    from shared.domain import ClientInfo
    from shared.services.accounts import RegisterCommand

    def start(cookie: str) -> tuple[str, str]:
        page = center.lambda_handler(request("/account", {}, {"__Host-uc_center": cookie}), context)
        assert page["statusCode"] == 200 and "__Host-uc_wx" not in cookies_set(page)  # no round trip per view
        link = re.search(r'<a class="button" href="([^"]+)"', page["body"]).group(1)  # type: ignore[union-attr]
        assert link == "/center/wechat/bind"
        started = center.lambda_handler(request(link, {}, {"__Host-uc_center": cookie}), context)
        location = headers_of(started)["Location"]
        assert started["statusCode"] == 302 and location.startswith("https://open.weixin.qq.com/")
        return parse_qs(urlsplit(location).query)["state"][0], cookies_set(started)["__Host-uc_wx"]

    with fake_wechat(SECRETS) as wechat:
        built = make_services(
            wechat_api_base=wechat.url,
            wechat_timeout=1.0,
            wechat_secrets=json.dumps(SECRETS),
            wechat_web_app_id="wxweb",
        )
        container.override(built)
        try:
            carol, dave = (
                built.accounts.register(RegisterCommand(username=name, password="a-password-1"), ClientInfo())
                for name in ("carol", "dave")
            )
            carol_cookie, _ = built.center.open(built.accounts.item(carol.user_id), ["pwd"])
            dave_cookie, _ = built.center.open(built.accounts.item(dave.user_id), ["pwd"])

            # Carol's round trip finished in a browser signed in as Dave links nothing
            state, nonce = start(carol_cookie)
            jar = {"__Host-uc_wx": nonce, "__Host-uc_center": dave_cookie}
            refused = center.lambda_handler(
                request("/center/wechat/callback", {"code": "x", "state": state}, jar), context
            )
            assert refused["statusCode"] == 403
            assert [a.provider for a in built.accounts.item(dave.user_id).accounts] == ["password"]

            state, nonce = start(carol_cookie)
            jar = {"__Host-uc_wx": nonce, "__Host-uc_center": carol_cookie}
            back = center.lambda_handler(
                request("/center/wechat/callback", {"code": "carol", "state": state}, jar), context
            )
            assert back["statusCode"] == 302 and headers_of(back)["Location"].endswith("/account")
            accounts = built.accounts.item(carol.user_id).accounts
            assert ("web", "o-wxweb-carol") in [(a.account_type, a.open_id) for a in accounts]
        finally:
            container.override(None)


def test_a_computer_shows_a_qr_code_the_phone_scans_and_the_page_polls_until_then(shop: Services, context) -> None:
    page, cookies = wechat_page()
    image = re.search(
        r'<img class="qr" src="([^"]+)" alt="[^"]*" data-poll="([^"]+)" data-scan="([^"]+)"', page["body"]
    )
    assert image is not None and image.group(1).startswith("data:image/svg+xml")
    poll, scan = image.group(2).replace("&amp;", "&"), image.group(3).replace("&amp;", "&")
    ticket = parse_qs(urlsplit(poll).query)["ticket"][0]
    jar = {"__Host-uc_wx": cookies["__Host-uc_wx"]}

    def polled(cookies: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        answer = center.lambda_handler(request("/center/wechat/poll", {"ticket": ticket}, cookies), context)
        return answer["statusCode"], json.loads(answer["body"]), cookies_set(answer)

    assert polled(jar)[1] == {"status": "pending"}
    assert polled({})[0] == 403  # another browser cannot wait for this code
    # The phone: the QR code opens the official account's OAuth in WeChat
    opened = center.lambda_handler(request("/center/wechat/scan", {"ticket": ticket}, ua=WECHAT_UA), context)
    assert opened["statusCode"] == 302
    oauth = urlsplit(headers_of(opened)["Location"])
    params = {k: v[0] for k, v in parse_qs(oauth.query).items()}
    assert oauth.path == "/connect/oauth2/authorize" and params["appid"] == "wxmp"
    assert scan.endswith(f"ticket={ticket}")
    back = center.lambda_handler(
        request("/center/wechat/callback", {"code": "dan", "state": params["state"]}, ua=WECHAT_UA), context
    )
    assert back["statusCode"] == 200 and "__Host-uc_center" not in cookies_set(back)  # the phone is not signed in
    # The computer's next poll: signed in, and sent on to the authorization request
    status, body, set_cookies = polled(jar)
    assert status == 200 and body["status"] == "done" and body["next"].startswith("/oauth2/authorize?")
    session = shop.center_sessions.current(set_cookies["__Host-uc_center"])
    assert session is not None and session.amr == ["wechat"]
    assert [a.open_id for a in shop.accounts.item(session.user_id).accounts] == ["o-wxmp-dan"]
    assert polled(jar)[1] == {"status": "expired"}  # the ticket is used up
