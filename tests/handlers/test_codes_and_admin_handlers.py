"""The codes and admin functions with their sample events (events/codes-*.json, events/admin-*.json)."""

from __future__ import annotations

import json
from pathlib import Path

from functions.admin import app as admin
from functions.codes import app as codes
from shared.bootstrap import ensure_super_admin
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand
from shared.services.catalog import SYSTEM_PERMISSIONS


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
    # Given a super admin (the event's authorizer context names them) and a plain user
    ensure_super_admin(services, "root", "root-password-1")
    root_id = services.users.find_user_id(["UNAME#root"])
    as_root = {"user_id": str(root_id), "session_id": "s", "app_name": "app0", "roles": "admin,l0"}
    as_root["permissions"] = ",".join(SYSTEM_PERMISSIONS)
    user = services.accounts.register(RegisterCommand(username="bob", password="secret123"), ClientInfo())
    body = {"user_id": user.user_id, "role_name": "editor", "app_name": "app0"}
    # When the sample event is sent with that context
    response = admin.lambda_handler(event("admin-assign-role.json", body=body, authorizer=as_root), context)
    # Then the role is assigned; a missing user is 404
    assert response["statusCode"] == 200 and json.loads(response["body"])["data"]["role_id"] == "app0:editor"
    ghost = {**body, "user_id": "ghost"}
    missing = admin.lambda_handler(event("admin-assign-role.json", body=ghost, authorizer=as_root), context)
    assert missing["statusCode"] == 404
    # And the sample event as it is (a caller id that names nobody) changes nothing: 403
    unknown = admin.lambda_handler(event("admin-assign-role.json", body=body), context)
    assert unknown["statusCode"] == 403 and json.loads(unknown["body"])["error"] == "PERMISSION_DENIED"


def test_wechat_miniapp_event_in_mock_mode(services: Services, event, context) -> None:
    from functions.wechat import app as wechat

    response = wechat.lambda_handler(event("wechat-miniapp-login.json"), context)
    data = json.loads(response["body"])["data"]
    assert response["statusCode"] == 200 and data["created"] is True
    assert data["user_info"]["accounts"][0]["app_id"] == "mock-miniapp"
    assert "session_key" not in response["body"]


def test_a_deployed_stack_refuses_mock_wechat_and_the_admin_code(make_services, event, context) -> None:
    """The same event in a deployed dev stack (no local mode, no WeChat credentials): 503, no user made."""
    from functions.wechat import app as wechat
    from shared import container

    deployed = make_services(stage="dev", local_mode=False)
    container.override(deployed)
    try:
        for code in ("admin-x", "someone"):
            response = wechat.lambda_handler(event("wechat-miniapp-login.json", body={"code": code}), context)
            body = json.loads(response["body"])
            assert response["statusCode"] == 503 and body["error"] == "UPSTREAM_UNAVAILABLE", body
            assert deployed.users.find_user_id([f"ACCT#wechat#mock-miniapp#{code}"]) is None
    finally:
        container.override(None)
