"""Admin function: users, role grants, role definitions, menus, departments and apps (API.md sections 4
and 5).

The routes live in ``shared.routes`` (one router per resource). Which app and which user a request may
act on is decided by the admin-scope rule: every route calls one operation of ``AdminActions``, which
asks it first.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.observability import logger, metrics, tracer
from shared.routes import apps, departments, grants, menus, roles, users

app = http.resolver(logger)
for resource in (grants, users, departments, roles, menus, apps):
    app.include_router(resource.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
