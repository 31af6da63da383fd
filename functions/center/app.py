"""Sign-in center function: the OpenID Connect provider and its hosted pages (issue 11).

The routes live in ``shared.routes.center``. Its layer (``layers/center``: Authlib, Jinja2) is attached
to this function only. The function also receives its own asynchronous invocations, which deliver
back-channel logout tokens (``shared.center.backchannel``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.center import backchannel
from shared.observability import logger, metrics, tracer
from shared.routes import center

app = http.resolver(logger)
app.include_router(center.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if backchannel.EVENT_KEY in event and "httpMethod" not in event:
        return backchannel.handle_invocation(event)
    return http.serve(app, event, context)
