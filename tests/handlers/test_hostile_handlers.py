"""Hostile bodies through the real Lambda handlers (issue 16): every route that takes a body answers deep
JSON and non-JSON content types with a 400 envelope, never a 500, and logs it as expected (INFO, no
stack trace)."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localdev.template import Route, read_api
from shared.container import Services
from shared.observability import logger
from shared.services.catalog import SYSTEM_PERMISSIONS

ROOT = {
    "user_id": "u-hostile",
    "session_id": "s-hostile",
    "app_name": "app0",
    "roles": "admin,l0",
    "permissions": ",".join(SYSTEM_PERMISSIONS),
}
DEEP_ARRAYS = "[" * 1000 + "]" * 1000  # about 2 KB
DEEP_OBJECT = '{"username":' + '{"a":' * 40 + "1" + "}" * 40 + "}"  # 41 levels: Python parses it


def body_routes() -> list[Route]:
    """Every route of the template that takes a request body."""
    return [route for route in read_api().routes if route.method in ("POST", "PUT", "PATCH")]


def handler_of(route: Route) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    function = read_api().functions[route.function]
    module = importlib.import_module(f"functions.{function.code_dir.name}.app")
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.lambda_handler
    return handler


def route_event(event: Callable[..., dict[str, Any]], route: Route, body: str, content_type: str) -> dict[str, Any]:
    """The route's API Gateway event: path parameters filled in, the given body, a super-admin caller."""
    data = event("account-login.json", raw_body=body, headers={"Content-Type": content_type}, authorizer=ROOT)
    params = {name: "x" for name in re.findall(r"{(\w+)}", route.path)}
    data.update(
        httpMethod=route.method,
        resource=route.path,
        path=re.sub(r"{\w+}", "x", route.path),
        pathParameters=params or None,
    )
    return data


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECT], ids=["2KB-of-arrays", "41-levels-of-objects"])
@pytest.mark.parametrize("route", body_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_deep_json_is_400_on_every_body_route(services: Services, event, context, route: Route, body: str) -> None:
    # Given JSON nested deeper than 32 levels, sent to a route that takes a body
    request = route_event(event, route, body, "application/json")
    # When the function handles it
    response = handler_of(route)(request, context)
    answer = json.loads(response["body"])
    # Then it is a 400 BAD_REQUEST envelope (the RFC token endpoint answers in its own format): every body
    # is checked before any route runs, also on the routes that ignore theirs; never a 500
    if route.path == "/api/auth/token":
        assert response["statusCode"] == 400
        assert answer["error"] == "invalid_request"
    else:
        assert response["statusCode"] == 400, answer
        assert (answer["success"], answer["code"], answer["error"]) == (False, 400, "BAD_REQUEST")


@pytest.mark.parametrize("route", body_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_text_plain_json_is_400_on_every_body_route(services: Services, event, context, route: Route) -> None:
    # Given a valid-looking JSON body sent as text/plain (what a cross-site form or fetch sends without a
    # CORS preflight)
    body = json.dumps({"username": "alice", "password": "secret123", "phone": "13800138000", "code_type": "login"})
    request = route_event(event, route, body, "text/plain;charset=UTF-8")
    # When the function handles it / Then it is refused with 400
    response = handler_of(route)(request, context)
    assert response["statusCode"] == 400, response["body"]


class CurrentStdout:
    """A stream that writes to whatever ``sys.stdout`` is at the time: capsys replaces it only once the
    test body runs, after fixtures are set up."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def powertools_stdout(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The Powertools logger's JSON lines, as capsys captures them from stdout (its handler keeps the
    stream it saw at import, so it is pointed at the current stdout for the test)."""
    handler = logger.registered_handler
    previous = handler.setStream(CurrentStdout())  # type: ignore[attr-defined]

    def lines() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    yield lines
    handler.setStream(previous)  # type: ignore[attr-defined]


def test_a_400_for_deep_json_logs_no_traceback_and_no_error(services: Services, event, context, powertools_stdout):
    from functions.account import app as account

    # Given a login whose body is 2 KB of nested arrays
    request = event("account-login.json", raw_body=DEEP_ARRAYS)
    # When the function handles it
    response = account.lambda_handler(request, context)
    logged = powertools_stdout()
    # Then the answer is a 400, logged as one INFO line with its code: no ERROR, no stack trace
    assert response["statusCode"] == 400
    refused_lines = [line for line in logged if line.get("message") == "request refused"]
    assert len(refused_lines) == 1
    refused = refused_lines[0]
    assert (refused["level"], refused["error"], refused["status"]) == ("INFO", "BAD_REQUEST", 400)
    assert not [line for line in logged if line.get("level") in ("ERROR", "CRITICAL", "WARNING")]
    assert not [line for line in logged if "exception" in line or "stack_trace" in line]
    assert "Traceback" not in json.dumps(logged) and "RecursionError" not in json.dumps(logged)


def test_a_500_is_still_logged_as_an_error_with_its_trace(
    services: Services, event, context, powertools_stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.account import app as account
    from shared import http

    # Given a body parser that fails unexpectedly (a bug, not the client's fault)
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(http, "body_fields", broken)
    # When a login is handled
    response = account.lambda_handler(event("account-login.json"), context)
    logged = powertools_stdout()
    # Then it is a 500 whose log line is an ERROR with the exception (the request id is in the answer)
    assert response["statusCode"] == 500
    errors = [line for line in logged if line.get("level") == "ERROR"]
    assert errors and "RuntimeError" in errors[0].get("exception", "")
