"""WeChat in local mode (mock mode: no AppIDs configured), over HTTP through the local gateway."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.e2e


def test_miniapp_mock_login_and_dev_admin_shortcut(api, unique) -> None:
    code = unique("mini")
    first = api("POST", "/api/auth/wechat/miniapp/login/", json={"code": code})
    assert first.status_code == 200 and first.json()["data"]["created"] is True
    account = first.json()["data"]["user_info"]["accounts"][0]
    assert (account["app_id"], account["open_id"]) == ("mock-miniapp", code)
    again = api("POST", "/api/auth/wechat/miniapp/login/", json={"code": code})
    assert again.json()["data"]["created"] is False
    admin = api("POST", "/api/auth/wechat/miniapp/login/", json={"code": unique("admin")}).json()["data"]
    assert api("GET", "/api/roles/admin-data/", token=admin["access_token"]).status_code == 200


def test_redirect_login_flow_for_business_systems(api, unique) -> None:
    admin = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
    origins = {"allowed_callback_origins": ["https://biz.example.com"]}
    assert api("PUT", "/api/apps/app0/update/", token=admin["access_token"], json=origins).status_code == 200
    refused = api(
        "GET", "/api/auth/wechat/login", params={"callbackUrl": "https://evil.example.com/"}, allow_redirects=False
    )
    assert refused.status_code == 400 and refused.json()["error"] == "CALLBACK_NOT_ALLOWED"
    start = api(
        "GET",
        "/api/auth/wechat/login",
        params={"callbackUrl": "https://biz.example.com/after"},
        headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0.47"},
        allow_redirects=False,
    )
    assert start.status_code == 302
    wechat = urlsplit(start.headers["Location"])
    query = parse_qs(wechat.query)
    assert wechat.netloc == "open.weixin.qq.com" and query["scope"] == ["snsapi_userinfo"]
    assert query["redirect_uri"][0].endswith("/api/auth/wechat/callback")
    back = api(
        "GET",
        "/api/auth/wechat/callback",
        params={"code": unique("u"), "state": query["state"][0]},
        allow_redirects=False,
    )
    assert back.status_code == 302
    landed = parse_qs(urlsplit(back.headers["Location"]).query)
    assert back.headers["Location"].startswith("https://biz.example.com/after?userId=")
    info = api("GET", "/api/auth/user/info/", token=landed["token"][0])
    assert info.status_code == 200 and info.json()["data"]["user_id"] == landed["userId"][0]
    # The browser is signed in at the sign-in center too: single sign-on into a code-flow client, and
    # signing out at the center ends the redirect flow's session as well
    center_cookie = back.cookies.get("__Host-uc_center") or next(
        c.split("=", 1)[1].split(";", 1)[0]
        for c in back.raw.headers.getlist("Set-Cookie")
        if c.startswith("__Host-uc_center=")
    )
    client_app = unique("rd")
    callback = f"http://127.0.0.1:8765/{client_app}/cb"
    created = api(
        "POST",
        "/api/apps/create",
        token=admin["access_token"],
        json={"app_name": client_app, "redirect_uris": [callback]},
    )
    assert created.status_code == 201
    from tests.e2e.center_client import Browser, Client, query_of

    browser = Browser(api("GET", "/.well-known/openid-configuration").json()["issuer"])
    browser.cookies["__Host-uc_center"] = center_cookie
    rp = Client(browser.base_url, client_app, callback)
    sso = browser.get(rp.authorize_url())
    assert sso.status_code == 302 and rp.token(query_of(sso.headers["Location"])["code"]).status_code == 200
    confirm = browser.get("/oauth2/logout")
    assert browser.submit(confirm).status_code == 200
    assert api("GET", "/api/auth/user/info/", token=landed["token"][0]).status_code == 401
    reused = api(
        "GET", "/api/auth/wechat/callback", params={"code": "x", "state": query["state"][0]}, allow_redirects=False
    )
    assert reused.status_code == 400 and reused.json()["error"] == "STATE_INVALID"


def test_account_center_flow_admin_gives_a_wechat_user_phone_and_password(api, unique) -> None:
    # Given a person who signed in with WeChat only
    wx = api("POST", "/api/auth/wechat/miniapp/login/", json={"code": unique("center")}).json()["data"]
    user_id = wx["user_info"]["user_id"]
    admin = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
    # When an admin sets a phone and a password on that user
    phone = f"137{abs(hash(user_id)) % 100_000_000:08d}"
    updated = api(
        "PUT",
        f"/api/users/{user_id}/update/",
        token=admin["access_token"],
        json={"phone": phone, "password": "center-pass-1"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["phone"] == "+86" + phone and updated.json()["data"]["has_password"] is True
    assert "center-pass-1" not in updated.text
    # Then the same person signs in with phone + password, as a business system does
    login = api("POST", "/api/auth/password/login", json={"phoneNumber": phone, "password": "center-pass-1"})
    assert login.status_code == 200
    data = login.json()["data"]
    assert data["userId"] == user_id and data["token"] == data["access_token"]
    # And the account-center user info lists both ways in
    info = api("GET", "/api/auth/user-info", token=data["token"]).json()["data"]
    assert info["userId"] == user_id and info["phoneNumber"] == "+86" + phone
    assert {a["provider"] for a in info["accounts"]} == {"wechat", "phone"}
    checked = api("POST", "/api/auth/verify-token", data={"token": data["token"]}).json()["data"]
    assert checked["userId"] == user_id
    assert api("POST", "/api/auth/signout", token=data["token"]).json()["data"] == {"revoked": 1}
    # And only user editors may do this
    plain = api("POST", "/api/auth/register/", json={"username": unique("p"), "password": "secret123"}).json()["data"]
    denied = api("PUT", f"/api/users/{user_id}/update/", token=plain["access_token"], json={"nickname": "x"})
    assert denied.status_code == 403


def test_old_clients_wechat_qr_routes(api, unique) -> None:
    made = api(
        "POST", "/api/account/wechat/qr-login/get-qrcode", json={"WECHAT_REDIRECT_URI": "https://biz.example.com/wx"}
    )
    if made.status_code == 400:  # app0's allowed origins come from the redirect-flow test when it ran first
        admin = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
        api(
            "PUT",
            "/api/apps/app0/update/",
            token=admin["access_token"],
            json={"allowed_callback_origins": ["https://biz.example.com"]},
        )
        made = api(
            "POST",
            "/api/account/wechat/qr-login/get-qrcode",
            json={"WECHAT_REDIRECT_URI": "https://biz.example.com/wx"},
        )
    assert made.status_code == 200 and made.json()["data"]["qr_code_url"].startswith("https://open.weixin.qq.com/")
    login = api(
        "POST",
        "/api/account/wechat/qr-login/login/",
        json={"code": unique("qr"), "state": made.json()["data"]["state"]},
    )
    assert login.status_code == 200 and login.json()["data"]["created"] is True


def test_a_callback_url_with_control_characters_is_refused_not_redirected(api, unique) -> None:
    """A CR LF in ``callbackUrl`` would split the Location header: 422, and no redirect at all."""
    bad = api(
        "GET",
        "/api/auth/wechat/login",
        params={"callbackUrl": "https://shop.example.com/cb\r\nSet-Cookie: owned=1"},
        allow_redirects=False,
    )
    assert bad.status_code == 422 and "callbackUrl" in bad.json()["errors"]
    assert "owned" not in str(bad.headers) and "Location" not in bad.headers
