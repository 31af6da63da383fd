"""The sign-in center with a certified relying party and a real browser (issue 11): tests/browser/sso.mjs
runs openid-client and headless Chromium against the local server; this test registers its two clients,
runs it, and checks what it saw. `make test` installs Chromium (Debian's package) and the npm packages;
screenshots land in test-output/center/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import jwt

from localdev.template import ROOT
from tests.e2e.center_client import LogoutReceiver
from tests.e2e.conftest import CENTER_PASSWORD as PASSWORD

BROWSER_TESTS = ROOT / "tests" / "browser"
SCREENSHOTS = ROOT / "test-output" / "center"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "make test installs Debian's chromium package (Makefile: browser-deps)"
    assert (BROWSER_TESTS / "node_modules" / "openid-client").is_dir(), "make test runs npm ci in tests/browser"
    return found


def run_script(name: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one of tests/browser's scripts; what it saw (the JSON object it prints last)."""
    done = subprocess.run(
        [shutil.which("node") or "node", name],
        cwd=BROWSER_TESTS,
        env={**os.environ, **env, "CHROMIUM": chromium(), "SCREENSHOTS": str(SCREENSHOTS)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_openid_client_in_chromium_signs_in_once_for_two_clients_and_out_of_both(
    base_url, api, admin_token, unique, person, server
) -> None:
    from tests.e2e.test_codes_flow import new_phone

    phone, _ = new_phone()
    receiver = LogoutReceiver()
    try:
        clients = []
        for index in range(2):
            name = unique("br")
            client = {
                "client_id": name,
                "redirect_uri": f"{receiver.origin}/{name}/callback",
                "post_logout_redirect_uri": f"{receiver.origin}/{name}/signed-out",
            }
            body = {
                "app_name": name,
                "display_name": f"Demo {index + 1}",
                "redirect_uris": [client["redirect_uri"]],
                "post_logout_redirect_uris": [client["post_logout_redirect_uri"]],
                "backchannel_logout_uri": receiver.url,
            }
            assert api("POST", "/api/apps/create", token=admin_token, json=body).status_code == 201
            clients.append(client)
        env = {
            "ISSUER": base_url,
            "CLIENTS": json.dumps(clients),
            "USERNAME": person,
            "PASSWORD": PASSWORD,
            "EMAIL": f"{person}@example.com",
            "PHONE": phone,
            "WECHAT_ID": unique("wx"),
            "OUTBOX": str(server.data_dir / "outbox.jsonl"),
        }
        seen = run_script("sso.mjs", env)

        assert seen["discovery"] == {"issuer": base_url, "methods": ["S256"]}
        assert "Demo 1" in seen["page_title"] and "登录" in seen["page_title"]
        assert seen["id_token"]["aud"] == clients[0]["client_id"] and seen["id_token"]["nonce_ok"] is True
        assert seen["id_token"]["amr"] == ["pwd"] and seen["id_token"]["sid"]
        assert seen["userinfo"]["preferred_username"] == person
        assert seen["refreshed"] is True and seen["sso"] is True and seen["sso_prompt_none"] is True
        assert seen["logout"] == clients[0]["post_logout_redirect_uri"] + "?state=bye-1"
        assert seen["after_logout"] == "login_required" and seen["after_logout_grant"] != "accepted"
        assert seen["english_title"].startswith("Sign in to continue to Demo 1")
        assert (SCREENSHOTS / "1-sign-in-page.png").stat().st_size > 1000
        # Code sign-ins in the browser: the countdown runs, a new phone registers, the email is the person's
        assert seen["sms"]["amr"] == ["sms"] and seen["sms"]["sub"] != seen["id_token"]["sub"]
        assert seen["email"]["amr"] == ["otp"] and seen["email"]["sub"] == seen["id_token"]["sub"]
        assert "s)" in seen["sms"]["countdown"]
        assert seen["wechat"]["amr"] == ["wechat"]
        assert seen["account_heading"] == "我的账号" and seen["account_username"] == person

        # Single logout: the app sessions are gone and both clients were told, with the same sid
        assert api("GET", "/api/auth/user/info", token=seen["access_token"]).status_code == 401
        # (then one each for the SMS, email and WeChat sign-ins' own logouts, to Demo 1 only)
        claims = [jwt.decode(t, options={"verify_signature": False}) for t in receiver.wait_for(5)]
        first = sorted(c["aud"] for c in claims if c["sid"] == seen["id_token"]["sid"])
        assert first == sorted(c["client_id"] for c in clients)
        assert len(claims) == 5
    finally:
        receiver.close()


def test_passkeys_and_totp_on_the_center_pages_in_chromium(base_url, api, admin_token, unique) -> None:
    """Issue 13 in a real browser: the skippable passkey prompt creates a passkey in Chromium's virtual
    authenticator, the passkey alone signs in (two factors in the ID token's amr), a TOTP user passes
    the code page, and WeChat's in-app browser gets no passkey at all."""
    import pyotp

    port = base_url.rsplit(":", 1)[1]
    issuer = f"http://localhost:{port}"  # WebAuthn refuses IP addresses: passkeys need a name
    receiver = LogoutReceiver()
    try:
        name = unique("pk")
        client = {"client_id": name, "redirect_uri": f"{receiver.origin}/{name}/callback"}
        body = {"app_name": name, "display_name": "Passkey demo", "redirect_uris": [client["redirect_uri"]]}
        assert api("POST", "/api/apps/create", token=admin_token, json=body).status_code == 201
        users = {}
        for role in ("passkey", "totp"):
            users[role] = unique(role[:2])
            registered = api("POST", "/api/auth/register", json={"username": users[role], "password": PASSWORD})
            assert registered.status_code == 201
            users[f"{role}_token"] = registered.json()["data"]["access_token"]
        setup = api("POST", "/api/auth/mfa/totp/setup", token=users["totp_token"], json={}).json()["data"]
        # confirmed with the previous step's code (±1 step is accepted): the browser's current one stays unused
        code = pyotp.TOTP(setup["secret"]).at(time.time() - 30)
        confirmed = api("POST", "/api/auth/mfa/totp/confirm", token=users["totp_token"], json={"code": code})
        assert confirmed.status_code == 200
        env = {
            "ISSUER": issuer,
            "CLIENT": json.dumps(client),
            "PASSKEY_USER": users["passkey"],
            "TOTP_USER": users["totp"],
            "PASSWORD": PASSWORD,
            "TOTP_SECRET": setup["secret"],
        }
        seen = run_script("passkeys.mjs", env)
    finally:
        receiver.close()
    assert seen["autofill_field"] == "username webauthn" and seen["passkey_button"] is True
    assert seen["prompt_title"] == "下次登录更快" and seen["password_amr"] == ["pwd"]
    assert seen["stored"] == [{"resident": True, "rp": "localhost", "count": seen["stored"][0]["count"]}]
    assert seen["autofill_available"] is True
    assert seen["autofill_sub_same"] is True and seen["autofill_amr"] == ["hwk", "user", "mfa"]
    assert seen["button_sub_same"] is True and seen["button_amr"] == ["hwk", "user", "mfa"]
    assert seen["count_after"] > seen["stored"][0]["count"]
    assert seen["account_passkeys"] == 1
    assert seen["mfa_title"] == "两步验证" and seen["recovery_link"] is True
    assert seen["totp_amr"] == ["pwd", "otp", "mfa"]
    assert seen["webview_button"] == 0 and "微信" in seen["webview_notice"]
    assert {"短信验证码", "微信登录"} <= set(seen["webview_tabs"])
    listed = api("GET", "/api/auth/passkeys", token=users["passkey_token"]).json()["data"]["items"]
    assert len(listed) == 1 and listed[0]["last_used_at"] is not None
    assert (SCREENSHOTS / "8-passkey-sign-in.png").stat().st_size > 1000
