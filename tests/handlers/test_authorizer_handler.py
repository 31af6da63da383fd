"""The authorizer function with the sample TOKEN event (events/authorizer-token.json)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from buildtools.openapi import route_map
from functions.authorizer import app as authorizer
from localdev.gateway import allowed
from shared.config import get_settings
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "authorizer-token.json").read_text())


ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev"


@functools.cache
def template_routes() -> str:
    return json.dumps(route_map())  # a few seconds: the OpenAPI document of every route, the template


@pytest.fixture(autouse=True)
def template_route_map(monkeypatch: pytest.MonkeyPatch):
    """The authorizer reads the route map generated from template.yaml (as its build does)."""
    monkeypatch.setenv("ROUTE_REQUIREMENTS", template_routes())
    get_settings.cache_clear()
    authorizer.route_requirements.cache_clear()
    authorizer.route_maps.cache_clear()
    yield
    get_settings.cache_clear()
    authorizer.route_requirements.cache_clear()
    authorizer.route_maps.cache_clear()


def token_event(token: str) -> dict[str, str]:
    return {**SAMPLE, "authorizationToken": f"Bearer {token}"}


def test_valid_token_gets_an_allow_policy_and_context(services: Services, context) -> None:
    signed_in = services.accounts.register(RegisterCommand(username="alice", password="secret123"), ClientInfo())
    policy = authorizer.lambda_handler(token_event(signed_in.tokens.access_token), context)
    assert policy["principalId"] == signed_in.user_id
    document = policy["policyDocument"]
    assert allowed(document, f"{ARN}/GET/api/auth/user/info") and allowed(document, f"{ARN}/GET/api/auth/sessions/")
    assert allowed(document, f"{ARN}/DELETE/api/auth/sessions/abc/")
    assert not allowed(document, f"{ARN}/GET/api/roles/admin-data")  # needs role admin
    assert policy["context"] == {
        "user_id": signed_in.user_id,
        "session_id": signed_in.tokens.session.session_id,
        "app_name": "app0",
        "roles": "l0",
        "permissions": "",
    }


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not-a-jwt", "Token x.y.z"])
def test_missing_or_malformed_tokens_are_unauthorized(services: Services, context, header: str) -> None:
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.lambda_handler({**SAMPLE, "authorizationToken": header}, context)


def test_revoked_session_is_unauthorized(services: Services, context) -> None:
    signed_in = services.accounts.register(RegisterCommand(username="alice", password="secret123"), ClientInfo())
    services.sessions.revoke(signed_in.user_id, signed_in.tokens.session.session_id)
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.lambda_handler(token_event(signed_in.tokens.access_token), context)


def test_missing_route_map_fails_closed(services: Services, context, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    signed_in = services.accounts.register(RegisterCommand(username="alice", password="secret123"), ClientInfo())
    monkeypatch.delenv("ROUTE_REQUIREMENTS")
    monkeypatch.setenv("ROUTES_FILE", str(tmp_path / "missing.json"))
    get_settings.cache_clear()
    authorizer.route_requirements.cache_clear()
    authorizer.route_maps.cache_clear()
    with pytest.raises(Exception, match="no route map"):
        authorizer.lambda_handler(token_event(signed_in.tokens.access_token), context)
