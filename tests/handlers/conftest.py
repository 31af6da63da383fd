"""Handler tests call the real Lambda entry points with the API Gateway events under events/."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localdev.workers import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def event() -> Callable[..., dict[str, Any]]:
    """Factory: a sample event from events/, with its body, headers or authorizer context replaced."""

    def load(
        name: str,
        body: Any = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
        authorizer: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / name).read_text(encoding="utf-8")))
        # Each invocation is a new request, as in API Gateway: the idempotency tokens of its
        # transactions derive from this id (shared/request_scope.py), so two calls must not share it.
        data["requestContext"]["requestId"] = str(uuid.uuid4())
        if body is not None:
            data["body"] = json.dumps(body, ensure_ascii=False)
        if raw_body is not None:
            data["body"] = raw_body
        if headers:
            data["headers"].update(headers)
            data["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
        if authorizer is not None:
            data["requestContext"]["authorizer"] = authorizer
        return data

    return load


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext(function_name="test", aws_request_id="req-1")


def decode(response: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a proxy response."""
    body: dict[str, Any] = json.loads(response["body"])
    return body


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    merged = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
    merged.update(response.get("headers") or {})
    return merged
