"""Lambda authorizer (TOKEN type): JWT + live session + route requirements → IAM policy.

It serves this stack's API and any other API that attaches it (its route map registered in SSM).

Kept light for cold starts: no Pydantic and no event handler, one GetItem per call.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.authorizer import RouteRequirement, Unauthorized, authorize, parse_requirements
from shared.config import get_settings
from shared.container import get_session_service
from shared.errors import ConfigurationError
from shared.observability import logger, metrics, tracer
from shared.route_maps import RouteMaps, api_id_of


@lru_cache(maxsize=1)
def route_requirements() -> list[RouteRequirement]:
    """The API's route map: the ROUTE_REQUIREMENTS setting, else routes.json built beside this file.

    Raises:
        ConfigurationError: there is no route map (the authorizer then denies by failing).
    """
    settings = get_settings()
    if settings.route_requirements:
        return parse_requirements(settings.route_requirements)
    path = Path(settings.routes_file) if settings.routes_file else Path(__file__).with_name("routes.json")
    try:
        return parse_requirements(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"no route map at {path}") from exc


@lru_cache(maxsize=1)
def route_maps() -> RouteMaps:
    """Own map plus the maps other stacks registered for their APIs (shared/route_maps.py)."""
    settings = get_settings()
    return RouteMaps(
        route_requirements,
        inline=settings.route_maps,
        parameter_prefix=settings.route_maps_parameter_prefix,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        routes = route_maps().for_api(api_id_of(str(event.get("methodArn", ""))))
        policy = authorize(event, get_session_service(), routes)
    except Unauthorized:
        metrics.add_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1)
        raise
    logger.info("authorized", extra={"user_id": policy["principalId"]})
    return policy
