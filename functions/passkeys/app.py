"""Passkeys function: WebAuthn registration and sign-in (issue 13).

The routes live in ``shared.routes.passkeys``. Its layer (``layers/passkeys``: fido2) is attached to
this function only, so no other function's cold start grows with it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.observability import logger, metrics, tracer
from shared.routes import center_passkeys, passkeys

app = http.resolver(logger)
for resource in (passkeys, center_passkeys):
    app.include_router(resource.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
