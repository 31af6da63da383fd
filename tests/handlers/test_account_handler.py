"""The account function with real API Gateway events (events/account-*.json) and moto."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import jwt
import pytest

from functions.account import app as account
from shared.container import Services
from tests.handlers.conftest import decode, headers_of
from tests.unit.helpers import bind_email_code

FORBIDDEN_IN_RESPONSES = (
    "secret123",
    "password_hash",
    "$2b$",
    "private_key",
    "Traceback",
    "aes:",
    "kms:",
    "totp_secret",
)


def call(event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = account.lambda_handler(event, context)
    body = decode(response)
    for secret in FORBIDDEN_IN_RESPONSES:
        assert secret not in response["body"], f"{secret!r} leaked into a response"
    return response["statusCode"], body, headers_of(response)


def register(event, context, **fields: Any) -> dict[str, Any]:
    body = {"username": "alice", "password": "secret123", **fields}
    status, data, _ = call(event("account-register.json", body=body), context)
    assert status == 201, data
    return data["data"]


def auth_context(data: dict[str, Any]) -> dict[str, str]:
    claims = jwt.decode(data["access_token"], options={"verify_signature": False})
    return {
        "principalId": claims["sub"],
        "user_id": claims["sub"],
        "session_id": claims["sid"],
        "app_name": claims["app"],
        "roles": ",".join(claims["roles"]),
        "permissions": "",
    }


def test_register_answers_201_envelope_with_tokens_and_default_role(services: Services, event, context) -> None:
    # Given a registration that asks for the admin role
    body = {"username": "alice", "password": "secret123", "email": "Alice@Example.com", "role_name": "admin"}
    # When it is posted
    status, data, headers = call(event("account-register.json", body=body), context)
    # Then the user exists with the default role only, and the answer is the envelope of API.md
    assert status == 201 and data["success"] is True and data["code"] == 201
    assert data["data"]["token_type"] == "Bearer"
    assert [r["role_code"] for r in data["data"]["user_info"]["roles"]] == ["l0"]
    assert data["data"]["user_info"]["email"] == "alice@example.com"
    assert headers["Cache-Control"] == "no-store"
    assert data["timestamp"].endswith("Z")


def test_duplicate_username_is_409_in_chinese_and_english(services: Services, event, context) -> None:
    register(event, context)
    status, data, _ = call(event("account-register.json", body={"username": "ALICE", "password": "secret123"}), context)
    assert (status, data["error"], data["message"]) == (409, "USERNAME_TAKEN", "用户名已注册")
    english = event("account-register.json", body={"username": "Alice", "password": "x12345"})
    english["headers"]["Accept-Language"] = "en-US,en;q=0.9"
    status, data, _ = call(english, context)
    assert (status, data["message"]) == (409, "Username already registered")
    assert "errors" not in data


def test_login_with_username_email_and_wrong_password(services: Services, event, context) -> None:
    register(event, context, email="a@example.com")
    for identifier in ("alice", "A@EXAMPLE.COM"):
        status, data, headers = call(
            event("account-login.json", body={"username": identifier, "password": "secret123"}), context
        )
        assert status == 200 and data["data"]["user_info"]["username"] == "alice"
        assert headers["Cache-Control"] == "no-store"
    wrong = call(event("account-login.json", body={"username": "alice", "password": "wrong-pass"}), context)
    unknown = call(event("account-login.json", body={"username": "nobody", "password": "wrong-pass"}), context)
    assert wrong[0] == unknown[0] == 401
    assert wrong[1]["error"] == unknown[1]["error"] == "INVALID_CREDENTIALS"
    assert wrong[1]["message"] == unknown[1]["message"]


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        ("{not json", 400, "BAD_REQUEST"),
        ("[1, 2, 3]", 400, "BAD_REQUEST"),
        ('"just a string"', 400, "BAD_REQUEST"),
        ('{"username": 12, "password": ["x"]}', 422, "VALIDATION_ERROR"),
        ('{"username": "alice"}', 422, "VALIDATION_ERROR"),
        ("{}", 422, "VALIDATION_ERROR"),
    ],
)
def test_malformed_bodies_get_4xx_envelopes(
    services: Services, event, context, raw: str, status: int, error: str
) -> None:
    got_status, data, _ = call(event("account-login.json", raw_body=raw), context)
    assert (got_status, data["code"], data["error"], data["success"]) == (status, status, error, False)
    if status == 422:
        assert data["errors"], "422 answers name the bad fields"
    else:
        assert "errors" not in data


def test_wrong_types_name_each_field(services: Services, event, context) -> None:
    status, data, _ = call(event("account-login.json", raw_body='{"username": 12, "password": ["x"]}'), context)
    assert status == 422 and set(data["errors"]) == {"password"}  # numbers are accepted as identifiers


def test_huge_body_is_413(services: Services, event, context) -> None:
    huge = json.dumps({"username": "alice", "password": "x" * (70 * 1024)})
    status, data, _ = call(event("account-login.json", raw_body=huge), context)
    assert (status, data["error"]) == (413, "PAYLOAD_TOO_LARGE")


def test_password_over_72_bytes_is_refused_not_truncated(services: Services, event, context) -> None:
    long_password = "密" * 25  # 75 bytes in UTF-8
    status, data, _ = call(event("account-register.json", body={"username": "bob", "password": long_password}), context)
    assert (status, data["error"]) == (422, "VALIDATION_ERROR")
    assert "password" in data["errors"]
    # A 72-byte password works and its 73-byte extension does not log in (nothing was truncated).
    exact = "a" * 72
    register(event, context, username="carol", password=exact)
    status, data, _ = call(event("account-login.json", body={"username": "carol", "password": exact + "b"}), context)
    assert status in (401, 422)


def test_oauth_token_endpoint_form_body_and_rfc_errors(services: Services, event, context) -> None:
    register(event, context)
    status, data, headers = call(event("account-token-form.json"), context)
    assert status == 200 and data["token_type"] == "Bearer" and "success" not in data
    assert headers["Cache-Control"] == "no-store"
    refreshed = event(
        "account-token-form.json", raw_body=f"grant_type=refresh_token&refresh_token={data['refresh_token']}"
    )
    status, again, _ = call(refreshed, context)
    assert status == 200 and again["refresh_token"] != data["refresh_token"]
    bad = event("account-token-form.json", raw_body="grant_type=password&username=alice&password=nope12")
    status, error, _ = call(bad, context)
    assert (status, error["error"]) == (400, "invalid_grant")
    unsupported = event("account-token-form.json", raw_body="grant_type=client_credentials")
    status, error, _ = call(unsupported, context)
    assert (status, error["error"]) == (400, "unsupported_grant_type")


def test_user_info_update_and_sessions_behind_the_authorizer_context(services: Services, event, context) -> None:
    data = register(event, context)
    auth = auth_context(data)
    status, info, _ = call(event("account-user-info.json", authorizer=auth), context)
    assert status == 200 and info["data"]["user_id"] == auth["user_id"]
    code = bind_email_code(services, "ali@example.com")
    body = {"nickname": "Ali", "email": "ali@example.com", "email_code": code}
    update = event("account-user-info.json", body=body, authorizer=auth)
    update["httpMethod"] = "PUT"
    update["path"] = update["resource"] = "/api/auth/user/info/update"
    status, updated, _ = call(update, context)
    assert status == 200 and updated["data"]["nickname"] == "Ali" and updated["data"]["email"] == "ali@example.com"
    listing = event("account-user-info.json", authorizer=auth)
    listing["path"] = listing["resource"] = "/api/auth/sessions"
    status, sessions, _ = call(listing, context)
    assert status == 200 and [s["current"] for s in sessions["data"]["items"]] == [True]


def test_protected_route_without_authorizer_context_is_401(services: Services, event, context) -> None:
    status, data, _ = call(event("account-user-info.json", authorizer={}), context)
    assert (status, data["error"]) == (401, "UNAUTHORIZED")


def test_verify_token_json_form_and_bad_tokens(services: Services, event, context) -> None:
    data = register(event, context)
    verify = event("account-login.json", body={"token": data["access_token"]})
    verify["path"] = verify["resource"] = "/api/auth/verify-token"
    status, ok, _ = call(verify, context)
    assert status == 200 and ok["data"]["valid"] is True and ok["data"]["userId"] == ok["data"]["user_id"]
    assert ok["data"]["roles"] == ["l0"] and isinstance(ok["data"]["exp"], int)

    form = dict(verify, body=f"access_token={data['access_token']}")
    form["headers"] = {**verify["headers"], "Content-Type": "application/x-www-form-urlencoded"}
    status, ok, _ = call(form, context)
    assert status == 200 and ok["data"]["valid"] is True

    header, payload, signature = data["access_token"].split(".")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode() + f".{payload}."
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    missing = dict(verify, body="{}")
    status, error, _ = call(missing, context)
    assert (status, error["error"]) == (422, "VALIDATION_ERROR") and "token" in error["errors"]
    for bad in (unsigned, f"{header}.{forged}.{signature}", "garbage"):
        status, error, _ = call(dict(verify, body=json.dumps({"token": bad})), context)
        assert (status, error["error"]) == (401, "TOKEN_INVALID"), bad


def test_database_failure_is_a_clean_503(
    services: Services, make_services, event, context, capsys, monkeypatch
) -> None:
    from shared import container

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "user-center-dev-AccountFunction-X1")
    broken = make_services(dynamodb_endpoint="http://127.0.0.1:9", table_name="missing")
    container.override(broken)
    capsys.readouterr()
    try:
        status, data, _ = call(
            event("account-login.json", body={"username": "alice", "password": "secret123"}), context
        )
    finally:
        container.override(services)
    assert (status, data["error"]) == (503, "SERVICE_UNAVAILABLE")
    # And the function's error-rate alarm (template.yaml) counts it: ServerErrors for this function
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = [m for m in lines if "ServerErrors" in m]
    assert len(counted) == 1 and counted[0]["function"] == "user-center-dev-AccountFunction-X1"
    assert counted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == os.environ["POWERTOOLS_METRICS_NAMESPACE"]


def test_unknown_route_is_404_envelope(services: Services, event, context) -> None:
    missing = event("account-login.json", body={})
    missing["path"] = "/api/auth/nothing-here"
    status, data, _ = call(missing, context)
    assert (status, data["error"]) == (404, "NOT_FOUND")


def test_jwks_publishes_public_keys_only(services: Services, event, context) -> None:
    jwks = event("account-login.json")
    jwks.update(httpMethod="GET", path="/.well-known/jwks.json", resource="/.well-known/jwks.json", body=None)
    response = account.lambda_handler(jwks, context)
    document = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert document["keys"] and all("d" not in key and key["kid"] for key in document["keys"])


def test_a_request_derives_the_tokens_of_its_transactions_from_its_id(services: Services, event, context) -> None:
    """Issue 10: the edge starts a request scope, so a transaction retried after its commit is a replay."""
    import hashlib

    from shared.request_scope import next_transaction_token

    registered = event("account-register.json", body={"username": "scoped", "password": "secret123"})
    request_id = registered["requestContext"]["requestId"]
    assert account.lambda_handler(registered, context)["statusCode"] == 201

    # The register's transactions used this request's tokens 1..n; the next one is n + 1
    following = next_transaction_token()
    derived = [hashlib.sha256(f"{request_id}:{n}".encode()).hexdigest()[:36] for n in range(2, 12)]
    assert following in derived
