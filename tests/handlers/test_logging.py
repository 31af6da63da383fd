"""Logs carry the request id as correlation id and never a password, token or hash."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from functions.account import app as account
from shared.container import Services
from shared.observability import logger


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its handler keeps the stdout it saw at import)."""
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def test_logs_have_correlation_id_and_no_secrets(services: Services, event, context, log_stream) -> None:
    # Given a sign-up and a sign-in through the handler
    body = {"username": "alice", "password": "Sup3rSecret!", "email": "alice@example.com"}
    created = json.loads(account.lambda_handler(event("account-register.json", body=body), context)["body"])["data"]
    login = event("account-login.json", body={"username": "alice", "password": "Sup3rSecret!"})
    tokens = json.loads(account.lambda_handler(login, context)["body"])["data"]
    refresh = event("account-login.json", body={"refresh_token": tokens["refresh_token"]})
    refresh["path"] = refresh["resource"] = "/api/auth/token/refresh"
    account.lambda_handler(refresh, context)
    # When we read what was logged
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.startswith("{")]
    logged = "\n".join(json.dumps(line) for line in lines if "level" in line)
    # Then the sign-in is there with the API Gateway request id, and no secret is
    signed_in = [line for line in lines if line.get("message") == "user signed in"]
    assert signed_in and signed_in[0]["correlation_id"] == login["requestContext"]["requestId"]
    assert signed_in[0]["user_id"] == created["user_info"]["user_id"]
    for secret in ("Sup3rSecret!", tokens["access_token"], tokens["refresh_token"], created["refresh_token"], "$2b$"):
        assert secret not in logged
