"""Logger, Tracer and Metrics, created once; the service name and namespace come from template.yaml's
Globals (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``).

Creating them does no I/O. Nothing that is logged may contain a password, a token, a code or a secret:
handlers log identifiers and outcomes only, never request bodies (``log_event`` stays off).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
