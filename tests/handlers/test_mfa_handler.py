"""Second factors through the account and admin functions' real entry points (API.md section 12)."""

from __future__ import annotations

import json
from typing import Any

import pyotp

from functions.admin import app as admin
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand
from tests.handlers.conftest import decode
from tests.handlers.test_account_handler import auth_context, call, register


def at(event: dict[str, Any], method: str, path: str, body: Any = None, auth: dict[str, str] | None = None) -> dict:
    event.update(httpMethod=method, path=path, resource=path)
    event["body"] = json.dumps(body) if body is not None else None
    if auth is not None:
        event["requestContext"]["authorizer"] = auth
    return event


def enrolled(services: Services, event, context) -> tuple[dict[str, str], pyotp.TOTP]:
    """alice, signed up over HTTP, with TOTP turned on over HTTP."""
    data = register(event, context)
    me = auth_context(data)
    status, body, headers = call(at(event("account-login.json"), "POST", "/api/auth/mfa/totp/setup/", {}, me), context)
    assert status == 200 and headers["Cache-Control"] == "no-store", body
    generator = pyotp.TOTP(body["data"]["secret"])
    assert body["data"]["otpauth_uri"].startswith("otpauth://totp/")
    code = generator.at(services.clock())
    status, body, _ = call(
        at(event("account-login.json"), "POST", "/api/auth/mfa/totp/confirm", {"code": code}, me), context
    )
    assert status == 200 and len(body["data"]["recovery_codes"]) == 10, body
    status, body, _ = call(at(event("account-login.json"), "GET", "/api/auth/mfa", None, me), context)
    assert body["data"] == {"totp": True, "recovery_codes_left": 10}
    return me, generator


def test_a_sign_in_answers_mfa_required_without_tokens_then_verify_answers_the_sign_in(
    services: Services, event, context
) -> None:
    _, generator = enrolled(services, event, context)
    login = {"username": "alice", "password": "secret123"}
    status, body, headers = call(event("account-login.json", body=login), context)
    assert status == 200 and body["success"] is True and headers["Cache-Control"] == "no-store"
    assert set(body["data"]) == {"mfa_required", "mfa_token", "methods"}
    assert body["data"]["mfa_required"] is True and body["data"]["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in json.dumps(body)
    token = body["data"]["mfa_token"]
    wrong = {"mfa_token": token, "code": "12345x"}
    status, body, _ = call(at(event("account-login.json"), "POST", "/api/auth/mfa/verify/", wrong), context)
    assert status == 400 and "MFA_CODE_INVALID" in json.dumps(body), body
    services.clock.advance(30)
    right = {"mfa_token": token, "code": generator.at(services.clock())}
    status, body, _ = call(at(event("account-login.json"), "POST", "/api/auth/mfa/verify/", right), context)
    assert status == 200 and body["data"]["user_info"]["username"] == "alice", body
    assert body["data"]["token_type"] == "Bearer" and body["data"]["recovery_codes"] is None
    status, body, _ = call(at(event("account-login.json"), "POST", "/api/auth/mfa/verify/", right), context)
    assert status == 400 and "MFA_TOKEN_INVALID" in json.dumps(body)


def test_the_oauth_password_grant_answers_mfa_required_like_auth0(services: Services, event, context) -> None:
    enrolled(services, event, context)
    status, body, _ = call(event("account-token-form.json"), context)
    assert status == 403 and body["error"] == "mfa_required" and body["mfa_token"] and "access_token" not in body


def test_turning_it_off_takes_a_code_in_the_delete_body(services: Services, event, context) -> None:
    me, generator = enrolled(services, event, context)
    services.clock.advance(30)
    status, body, _ = call(
        at(event("account-login.json"), "DELETE", "/api/auth/mfa/totp", {"code": "000"}, me), context
    )
    assert status == 400
    code = {"code": generator.at(services.clock())}
    status, body, _ = call(at(event("account-login.json"), "DELETE", "/api/auth/mfa/totp/", code, me), context)
    assert status == 200 and body["data"] == {"totp": False, "recovery_codes_left": 0}, body
    status, body, _ = call(event("account-login.json", body={"username": "alice", "password": "secret123"}), context)
    assert status == 200 and "access_token" in body["data"]


def test_admin_reset_route_needs_app0_and_the_permission(services: Services, event, context) -> None:
    me, _ = enrolled(services, event, context)
    root = services.accounts.register(RegisterCommand(username="root", password="secret123"), ClientInfo())
    services.roles.assign(root.user_id, "app0", "admin")
    path = f"/api/users/{me['user_id']}/mfa/reset/"

    def reset(app: str, permissions: str) -> tuple[int, dict[str, Any]]:
        ctx = {"principalId": root.user_id, "user_id": root.user_id, "session_id": "s", "app_name": app}
        ctx.update(roles="admin", permissions=permissions)
        response = admin.lambda_handler(at(event("admin-assign-role.json"), "POST", path, {}, ctx), context)
        return response["statusCode"], decode(response)

    assert reset("app0", "system:user:query")[0] == 403  # the route's permission is not held
    assert reset("shop", "system:user:edit")[0] == 403  # people are managed from app0
    assert services.accounts.item(me["user_id"]).mfa.enabled
    status, body = reset("app0", "system:user:edit")
    assert status == 200 and body["data"] == {"reset": True}, body
    assert not services.accounts.item(me["user_id"]).mfa.enabled
    assert reset("app0", "system:user:edit")[1]["data"] == {"reset": False}
