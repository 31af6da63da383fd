"""The RFC 6749 token endpoint: raw JSON answers and RFC error bodies, not the envelope."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from shared import http
from shared.container import get_services
from shared.envelope import JSON_HEADERS, NO_STORE_HEADERS
from shared.errors import AppError, InvalidCredentialsError, MfaRequired, ValidationError
from shared.observability import metrics, tracer
from shared.schemas import TokenGrantBody
from shared.views import Tokens

router = http.router()
TOKEN_PATH = "/api/auth/token"


@router.post(TOKEN_PATH, **http.raw_route("json"))
@tracer.capture_method
def oauth_token(client: http.Client) -> Response[str]:
    """RFC 6749 token endpoint (form body ``grant_type`` = ``password`` or ``refresh_token``): raw JSON
    answers, and RFC error bodies, also for an invalid body (so this one route reads its body itself,
    with the same model, ``TokenGrantBody``)."""
    try:
        body = http.parse(router, TokenGrantBody)
        services = get_services()
        if body.grant_type == "password":
            if not body.username or not body.password:
                return _oauth_error("invalid_request", "username and password are required")
            pair = services.accounts.login(body.username, body.password, body.app_name, client).tokens
            metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
        elif body.grant_type == "refresh_token":
            if not body.refresh_token:
                return _oauth_error("invalid_request", "refresh_token is required")
            pair = services.sessions.refresh(body.refresh_token)
            metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
        else:
            return _oauth_error("unsupported_grant_type", "grant_type must be password or refresh_token")
    except MfaRequired as due:  # as Auth0 answers it: the client finishes at /api/auth/mfa/verify/
        answer = {"error": "mfa_required", "error_description": "a second factor is required", **due.data}
        return http.raw(answer, status=403, no_store=True)
    except InvalidCredentialsError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        return _oauth_error("invalid_grant", "invalid username or password")
    except ValidationError as exc:
        return _oauth_error("invalid_request", "; ".join(sorted(exc.errors or {})) or "invalid request")
    except AppError as exc:
        if exc.status in (401, 403):
            return _oauth_error("invalid_grant", exc.message("en"))
        if exc.status == 400:
            return _oauth_error("invalid_request", exc.message("en"))
        raise
    return http.raw(Tokens.of(pair).model_dump(), no_store=True)


def _oauth_error(error: str, description: str) -> Response[str]:
    return http.raw({"error": error, "error_description": description}, status=400, no_store=True)


def bad_body(event: dict[str, Any], error: AppError) -> dict[str, Any] | None:
    """The token endpoint answers a malformed body as RFC 6749 does: 400 ``invalid_request`` (for
    ``http.serve``'s ``bad_body``); other routes answer with the envelope."""
    if str(event.get("resource") or "").rstrip("/") != TOKEN_PATH:
        return None
    body = {"error": "invalid_request", "error_description": error.message("en")}
    return {"statusCode": 400, "headers": {**JSON_HEADERS, **NO_STORE_HEADERS}, "body": json.dumps(body)}
