"""Verification codes as a frontend developer uses them locally: send, read the outbox, sign in."""

from __future__ import annotations

import json
import random

import pytest

from localdev.server import LocalServer

pytestmark = pytest.mark.e2e


def outbox_code(server: LocalServer, to: str, code_type: str) -> str:
    lines = [json.loads(line) for line in (server.data_dir / "outbox.jsonl").read_text().splitlines()]
    return str([m for m in lines if m["to"] == to and m["code_type"] == code_type][-1]["code"])


def new_phone() -> tuple[str, str]:
    local = f"139{random.randint(10_000_000, 99_999_999)}"
    return local, "+86" + local


def test_phone_sign_in_with_the_code_from_the_outbox(api, server: LocalServer) -> None:
    phone, e164 = new_phone()
    sent = api("POST", "/api/auth/sms/code/", json={"phone": phone, "code_type": "login"})
    assert sent.status_code == 200 and sent.json()["data"] == {
        "phone": e164,
        "code_type": "login",
        "expires_in": 300,
        "resend_after": 60,
    }
    assert "code" not in json.dumps(sent.json()["data"]).replace("code_type", "")
    again = api("POST", "/api/auth/sms/code/", json={"phone": phone, "code_type": "login"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    code = outbox_code(server, e164, "login")
    wrong = api(
        "POST", "/api/auth/phone/login/", json={"phone": phone, "sms_code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "CODE_INVALID"
    login = api("POST", "/api/auth/phone/login/", json={"phone": phone, "sms_code": code})
    assert login.status_code == 200 and login.json()["data"]["created"] is True
    info = api("GET", "/api/auth/user/info/", token=login.json()["data"]["access_token"]).json()["data"]
    assert info["phone"] == e164


def test_password_reset_by_email_code(api, server: LocalServer, unique) -> None:
    name = unique("forgot")
    email = f"{name}@example.com"
    tokens = api(
        "POST", "/api/auth/register/", json={"username": name, "password": "secret123", "email": email}
    ).json()["data"]
    assert api("POST", "/api/auth/email/code/", json={"email": email, "code_type": "reset_password"}).status_code == 200
    code = outbox_code(server, email, "reset_password")
    reset = api("POST", "/api/auth/password/reset/", json={"email": email, "code": code, "new_password": "brand-new-1"})
    assert reset.status_code == 200 and reset.json()["data"]["revoked"] == 1
    assert api("GET", "/api/auth/user/info/", token=tokens["access_token"]).status_code == 401
    assert api("POST", "/api/auth/login/", json={"username": email, "password": "brand-new-1"}).status_code == 200


def test_old_clients_phone_routes(api, server: LocalServer) -> None:
    phone, e164 = new_phone()
    sent = api("POST", "/api/account/phone/send-verification-code/", json={"phone": phone})
    assert sent.status_code == 200 and sent.json()["data"]["message"] == "验证码已发送"
    unknown = api(
        "POST", "/api/account/phone/login-phone/", json={"phone": phone, "sms_code": outbox_code(server, e164, "login")}
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "CODE_INVALID"
