"""Passkeys through the passkeys function's real entry point (API.md section 12): the relying party and
origin come from the request's host (``localhost`` under ``make run``) unless settings name them."""

from __future__ import annotations

import json
from typing import Any

from functions.passkeys import app as passkeys
from shared.container import Services
from tests.fakes.authenticator import SoftAuthenticator
from tests.handlers.conftest import decode
from tests.handlers.test_account_handler import auth_context, register
from tests.handlers.test_mfa_handler import at


def call(event: dict[str, Any], context: Any, host: str = "localhost:3000") -> tuple[int, dict[str, Any]]:
    event["headers"]["Host"] = host
    event["multiValueHeaders"]["Host"] = [host]
    response = passkeys.lambda_handler(event, context)
    assert "Traceback" not in response["body"]
    return response["statusCode"], decode(response)


def test_register_list_sign_in_and_remove_over_http(services: Services, event, context) -> None:
    me = auth_context(register(event, context))
    device = SoftAuthenticator("http://localhost:3000")
    status, body = call(
        at(event("account-login.json"), "POST", "/api/auth/passkeys/register/options/", {}, me), context
    )
    assert status == 200 and body["data"]["publicKey"]["rp"]["id"] == "localhost", body
    made = {"credential": device.create(body["data"]["publicKey"]), "name": "Laptop"}
    status, body = call(
        at(event("account-login.json"), "POST", "/api/auth/passkeys/register/verify", made, me), context
    )
    assert status == 201 and body["data"]["passkey_id"] == device.passkey_id and body["data"]["name"] == "Laptop"
    status, body = call(at(event("account-login.json"), "GET", "/api/auth/passkeys", None, me), context)
    assert [p["passkey_id"] for p in body["data"]["items"]] == [device.passkey_id]
    # sign in with no username: options, then the answer with its challenge_id
    status, body = call(at(event("account-login.json"), "POST", "/api/auth/passkeys/login/options", None), context)
    assert status == 200 and body["data"]["challenge_id"], body
    answer = {"challenge_id": body["data"]["challenge_id"], "credential": device.get(body["data"]["publicKey"])}
    status, body = call(at(event("account-login.json"), "POST", "/api/auth/passkeys/login/verify/", answer), context)
    assert status == 200 and body["data"]["user_info"]["username"] == "alice" and body["data"]["access_token"]
    # the same answer again: the challenge is spent
    status, body = call(at(event("account-login.json"), "POST", "/api/auth/passkeys/login/verify", answer), context)
    assert status == 400 and body["error"] == "PASSKEY_CHALLENGE_INVALID"
    path = f"/api/auth/passkeys/{device.passkey_id}"
    status, body = call(at(event("account-login.json"), "DELETE", path, None, me), context)
    assert status == 200 and body["data"] == {"deleted": True}
    status, body = call(at(event("account-login.json"), "DELETE", path, None, me), context)
    assert status == 404


def test_a_page_on_another_host_is_not_the_relying_party(services: Services, event, context) -> None:
    me = auth_context(register(event, context))
    device = SoftAuthenticator("http://localhost:3000")
    _, body = call(at(event("account-login.json"), "POST", "/api/auth/passkeys/register/options", {}, me), context)
    made = {"credential": device.create(body["data"]["publicKey"])}
    # the browser was on localhost, the request says another host: another relying party and origin
    status, body = call(
        at(event("account-login.json"), "POST", "/api/auth/passkeys/register/verify", made, me),
        context,
        "127.0.0.1:3000",
    )
    assert status == 400 and body["error"] in ("PASSKEY_CHALLENGE_INVALID", "PASSKEY_INVALID")
    status, body = call(at(event("account-login.json"), "POST", "/api/auth/passkeys/login/verify", {"x": 1}), context)
    assert status == 422 and json.dumps(body).count("challenge_id")
