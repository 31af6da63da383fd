"""Logger, Tracer and Metrics, created once; the service name and namespace come from template.yaml's
Globals (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``).

Creating them does no I/O. Nothing that is logged may contain a password, a token, a code or a secret:
handlers log identifiers and outcomes only, never request bodies (``log_event`` stays off).

The tracer is lazy: importing the X-Ray SDK builds its recorder and a botocore X-Ray client, about
200 ms of cold start (measured by ``make bench``), while X-Ray samples only a small share of requests
(1 a second plus 5 % by default). So the Powertools Tracer is created, and the handler traced through
it, only when Lambda marks the current invocation as sampled (``Sampled=1`` in ``_X_AMZN_TRACE_ID``).
Lambda's own active tracing still records every sampled invocation's segment either way.

Traces never hold request or response bodies: a handler's response carries access and refresh tokens,
and an exception's text may quote the input. So every decorator is applied with ``capture_response`` and
``capture_error`` off (template.yaml also sets ``POWERTOOLS_TRACER_CAPTURE_RESPONSE`` and
``POWERTOOLS_TRACER_CAPTURE_ERROR`` to ``false`` for any Tracer used directly).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

F = TypeVar("F", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics()


def count_server_error() -> None:
    """One 5xx answer of this function: ``ServerErrors`` with a ``function`` dimension (the function's
    name), written at once, for the error-rate alarm each function has in template.yaml. (Handled 5xx
    answers are not Lambda ``Errors``: the handler returned normally.)"""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    dimensions = {
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME", "user-center"),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
    }
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "UserCenter")
    with single_metric(
        name="ServerErrors", unit=MetricUnit.Count, value=1, namespace=namespace, default_dimensions=dimensions
    ):
        pass


def _sampled() -> bool:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return False
    return "Sampled=1" in os.environ.get("_X_AMZN_TRACE_ID", "")


class LazyTracer:
    """The Powertools Tracer's decorators, applied only to sampled invocations."""

    def __init__(self) -> None:
        self._tracer: Any = None
        self._wrapped: dict[Callable[..., Any], Callable[..., Any]] = {}

    def _real(self) -> Any:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def _traced(self, func: Callable[..., Any], kind: str) -> Callable[..., Any]:
        wrapped = self._wrapped.get(func)
        if wrapped is None:
            wrapped = getattr(self._real(), kind)(func, capture_response=False, capture_error=False)
            self._wrapped[func] = wrapped
        return wrapped

    def capture_lambda_handler(self, handler: F) -> F:
        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            if _sampled():
                return self._traced(handler, "capture_lambda_handler")(event, context)
            return handler(event, context)

        return run  # type: ignore[return-value]

    def capture_method(self, method: F) -> F:
        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            if _sampled():
                return self._traced(method, "capture_method")(*args, **kwargs)
            return method(*args, **kwargs)

        # Route handlers: Powertools reads the handler's signature (parameters, OpenAPI) and resolves
        # string annotations in the wrapper's module, where the handler's names are unknown: give it the
        # handler's own signature, already resolved.
        with contextlib.suppress(NameError, TypeError):
            run.__signature__ = inspect.signature(method, eval_str=True)  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]


tracer = LazyTracer()
