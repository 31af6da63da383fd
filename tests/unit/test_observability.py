"""The lazy tracer: the X-Ray SDK is loaded only for sampled invocations."""

from __future__ import annotations

import pytest

from shared.observability import LazyTracer


def test_unsampled_invocations_never_build_the_xray_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
    tracer = LazyTracer()
    handler = tracer.capture_lambda_handler(lambda event, context: {"echo": event})
    method = tracer.capture_method(lambda x: x * 2)
    assert handler(1, None) == {"echo": 1} and method(21) == 42
    assert tracer._tracer is None


def test_sampled_invocations_go_through_the_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    tracer = LazyTracer()
    method = tracer.capture_method(lambda x: x * 2)
    assert method(21) == 42 and method(4) == 8
    assert type(tracer._tracer).__name__ == "Tracer"
    assert len(tracer._wrapped) == 1  # wrapped once, reused


def test_disabled_tracing_wins_over_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    tracer = LazyTracer()
    assert tracer.capture_method(lambda: "ok")() == "ok" and tracer._tracer is None
