"""The local API Gateway stand-in: authorizer cache semantics, IAM evaluation, gateway responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localdev import gateway as gateway_module
from localdev.gateway import Gateway, allowed
from localdev.template import read_api
from localdev.workers import InvocationError

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/dev"


class StubPool:
    """Stands in for a function's workers: records events, answers with a canned result."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def policy(effect: str) -> dict[str, Any]:
    return {
        "principalId": "u1",
        "policyDocument": {
            "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": [f"{ARN}/*/*"]}]
        },
        "context": {"user_id": "u1", "session_id": "s1", "app_name": "app0", "roles": "l0", "permissions": ""},
    }


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(gateway_module.time, "monotonic", lambda: now[0])
    return now


def build(authorizer: StubPool, ttl: int) -> tuple[Gateway, StubPool]:
    api = read_api()
    for spec in api.authorizers.values():
        spec.cache_ttl = ttl
    backend = StubPool({"statusCode": 200, "headers": {}, "body": json.dumps({"ok": True})})
    pools = {name: backend for name in api.functions}
    pools["AuthorizerFunction"] = authorizer
    return Gateway(api, pools), backend


def call(gw: Gateway, token: str = "Bearer t1") -> int:
    return gw.handle("GET", "/api/auth/user/info/", {"Authorization": token}, b"", "127.0.0.1").status


def test_cached_answer_is_reused_until_the_ttl_passes(clock: list[float]) -> None:
    authorizer = StubPool(policy("Allow"))
    gw, backend = build(authorizer, ttl=300)
    assert call(gw) == 200 and call(gw) == 200
    assert len(authorizer.events) == 1  # second call served from the cache
    # When the session is revoked, the cached allow still holds until the TTL passes (as in AWS)
    authorizer.answer = InvocationError("Exception", "Unauthorized")
    clock[0] += 299
    assert call(gw) == 200
    clock[0] += 2
    assert call(gw) == 401
    assert backend.events[0]["requestContext"]["authorizer"]["user_id"] == "u1"


def test_ttl_zero_asks_every_time_and_tokens_are_cached_apart(clock: list[float]) -> None:
    authorizer = StubPool(policy("Allow"))
    gw, _ = build(authorizer, ttl=0)
    call(gw)
    call(gw)
    assert len(authorizer.events) == 2
    gw300, _ = build(authorizer := StubPool(policy("Allow")), ttl=300)
    call(gw300, "Bearer a")
    call(gw300, "Bearer b")
    assert len(authorizer.events) == 2


def test_missing_header_deny_and_authorizer_crash(clock: list[float]) -> None:
    gw, _ = build(StubPool(policy("Deny")), ttl=0)
    assert call(gw) == 403
    response = gw.handle("GET", "/api/auth/user/info", {}, b"", "127.0.0.1")
    assert response.status == 401 and json.loads(response.body)["error"] == "UNAUTHORIZED"
    crashed, _ = build(StubPool(InvocationError("KeyError", "boom")), ttl=0)
    response = crashed.handle("GET", "/api/auth/user/info", {"Authorization": "Bearer x"}, b"", "127.0.0.1")
    assert response.status == 503 and json.loads(response.body)["code"] == 503


def test_iam_evaluation_explicit_deny_wins() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Resource": [f"{ARN}/*/*"]},
            {"Effect": "Deny", "Resource": [f"{ARN}/GET/api/x/?*"]},
        ]
    }
    assert allowed(document, f"{ARN}/GET/api/y")
    assert not allowed(document, f"{ARN}/GET/api/x/1")
    assert allowed(document, f"{ARN}/GET/api/x/")
    assert not allowed({"Statement": []}, f"{ARN}/GET/api/y")
