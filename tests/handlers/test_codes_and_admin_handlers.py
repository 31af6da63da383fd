"""The codes and admin functions with their sample events (events/codes-*.json, events/admin-*.json)."""

from __future__ import annotations

import json
from pathlib import Path

from functions.admin import app as admin
from functions.codes import app as codes
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand


def test_sms_code_event_sends_to_the_outbox(services: Services, event, context) -> None:
    response = codes.lambda_handler(event("codes-sms-code.json"), context)
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and body["data"]["phone"] == "+8613800138000"
    line = json.loads(Path(services.settings.local_outbox).read_text().splitlines()[-1])
    assert line["to"] == "+8613800138000" and len(line["code"]) == 6
    login = event("codes-phone-login.json", body={"phone": "13800138000", "sms_code": line["code"]})
    signed_in = json.loads(codes.lambda_handler(login, context)["body"])
    assert signed_in["data"]["created"] is True and signed_in["data"]["token_type"] == "Bearer"


def test_phone_login_with_a_wrong_code_is_400(services: Services, event, context) -> None:
    response = codes.lambda_handler(event("codes-phone-login.json"), context)
    assert response["statusCode"] == 400 and json.loads(response["body"])["error"] == "CODE_INVALID"


def test_assign_role_event(services: Services, event, context) -> None:
    user = services.accounts.register(RegisterCommand(username="bob", password="secret123"), ClientInfo())
    body = {"user_id": user.user_info["user_id"], "role_name": "editor", "app_name": "app0"}
    response = admin.lambda_handler(event("admin-assign-role.json", body=body), context)
    assert response["statusCode"] == 200 and json.loads(response["body"])["data"]["role_id"] == "app0:editor"
    missing = admin.lambda_handler(event("admin-assign-role.json", body={**body, "user_id": "ghost"}), context)
    assert missing["statusCode"] == 404


def test_wechat_miniapp_event_in_mock_mode(services: Services, event, context) -> None:
    from functions.wechat import app as wechat

    response = wechat.lambda_handler(event("wechat-miniapp-login.json"), context)
    data = json.loads(response["body"])["data"]
    assert response["statusCode"] == 200 and data["created"] is True
    assert data["user_info"]["accounts"][0]["app_id"] == "mock-miniapp"
    assert "session_key" not in response["body"]
