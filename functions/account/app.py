"""Account function: password sign-up/in, the OAuth2 token endpoint, the signed-in user, sessions, JWKS.

The routes live in ``shared.routes`` (one router per resource); this function serves these ones.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.observability import logger, metrics, tracer
from shared.routes import keys, me, mfa, oauth, sessions, sign_in

app = http.resolver(logger)
for resource in (sign_in, oauth, me, sessions, keys, mfa):
    app.include_router(resource.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context, bad_body=oauth.bad_body)
