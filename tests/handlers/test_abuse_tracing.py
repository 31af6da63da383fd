"""Traces never record bodies, tokens or codes (issue 16): a sampled login through the real handler, the
real Powertools Tracer and the X-Ray SDK's recorder, with an in-memory emitter in place of the daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.account import app as account
from localdev.template import load
from shared.container import Services
from shared.observability import tracer

SAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class MemoryEmitter:
    """Keeps every segment and subsegment the recorder sends, as the JSON the X-Ray daemon would get."""

    def __init__(self) -> None:
        self.documents: list[str] = []

    def send_entity(self, entity: Any) -> None:
        self.documents.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        pass

    @property
    def ip(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return 2000


@pytest.fixture
def xray(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryEmitter]:
    """A sampled Lambda invocation with tracing on, recorded in memory.

    The Powertools Tracer is shared state (and the X-Ray SDK's recorder global), so both are put back
    afterwards; modules are not patched (that cannot be undone for the rest of the session).
    """
    import aws_xray_sdk
    from aws_lambda_powertools import Tracer
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.context import Context

    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")  # Powertools traces only inside Lambda
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", SAMPLED)
    # The worst case for the code: the environment asks for responses and errors to be captured.
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true")
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_ERROR", "true")
    monkeypatch.setattr(tracer, "_tracer", None)
    monkeypatch.setattr(tracer, "_wrapped", {})
    sdk_was_enabled = aws_xray_sdk.global_sdk_config.sdk_enabled()
    saved = (xray_recorder.emitter, xray_recorder.context, xray_recorder.streaming_threshold)
    Tracer._reset_config()
    Tracer._config["auto_patch"] = False
    aws_xray_sdk.global_sdk_config.set_sdk_enabled(True)
    emitter = MemoryEmitter()
    xray_recorder.configure(emitter=emitter, context=Context(context_missing="IGNORE_ERROR"))
    xray_recorder.begin_segment("user-center-test", sampling=1)
    try:
        yield emitter
    finally:
        segment = xray_recorder.current_segment()
        if segment is not None:
            xray_recorder.end_segment()  # sends what is left: the segment with its subsegments
        emitter_, context_, threshold = saved
        xray_recorder.configure(emitter=emitter_, context=context_, streaming_threshold=threshold)
        aws_xray_sdk.global_sdk_config.set_sdk_enabled(sdk_was_enabled)
        Tracer._reset_config()


def test_a_sampled_login_trace_holds_no_token_and_no_body(services: Services, event, context, xray) -> None:
    # Given a user, and a sampled login through the handler
    body = {"username": "alice", "password": "Sup3rSecret!", "email": "alice@example.com"}
    assert account.lambda_handler(event("account-register.json", body=body), context)["statusCode"] == 201
    response = account.lambda_handler(event("account-login.json", body=body), context)
    tokens = json.loads(response["body"])["data"]
    wrong = event("account-login.json", body={"username": "alice", "password": "Wr0ngSecret!"})
    assert account.lambda_handler(wrong, context)["statusCode"] == 401
    # When the trace is complete
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.end_segment()
    trace = "\n".join(xray.documents)
    # Then the handler and the route were traced
    names = [json.loads(document).get("name", "") for document in xray.documents]
    assert any(name == "## lambda_handler" for name in names), names
    assert "## shared.routes.sign_in.login" in names, names
    # And no segment or subsegment holds a token, a password, or the response body
    for secret in (tokens["access_token"], tokens["refresh_token"], "Sup3rSecret!", "Wr0ngSecret!"):
        assert secret not in trace
    assert response["body"] not in trace and '"statusCode"' not in trace and "response" not in trace.lower()


def test_the_template_turns_capture_off_for_every_function() -> None:
    variables = load()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
