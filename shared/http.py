"""The thin HTTP edge shared by every function: body parsing, the caller, and error mapping.

All exception-to-response mapping lives in :func:`install_error_handlers`; handlers only raise typed
errors. Bodies are JSON or ``application/x-www-form-urlencoded``; anything else malformed is a 400.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.domain import ClientInfo
from shared.envelope import JSON_HEADERS, NO_STORE_HEADERS, dumps, error_body, language, success_body
from shared.errors import (
    AppError,
    BadRequestError,
    InternalError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationError,
)

M = TypeVar("M", bound=BaseModel)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, case-insensitively."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def raw_body(event: Mapping[str, Any], max_bytes: int) -> bytes:
    """The request body as bytes (base64-decoded when API Gateway encoded it).

    Raises:
        PayloadTooLargeError: the body is larger than ``max_bytes``.
    """
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if len(data) > max_bytes:
        raise PayloadTooLargeError()
    return data


def body_fields(event: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The body as a dict: a JSON object, or form fields; an empty body is ``{}``.

    Raises:
        BadRequestError: invalid JSON, a JSON value that is not an object, or undecodable bytes.
        PayloadTooLargeError: the body is too large.
    """
    data = raw_body(event, max_bytes)
    if not data.strip():
        return {}
    content_type = (header(event.get("headers"), "content-type") or "").lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("body is not UTF-8") from exc
    looks_json = text.lstrip()[:1] in ("{", "[", '"')
    if "application/x-www-form-urlencoded" in content_type and not looks_json:
        # (curl -d sends JSON with this content type by default; a body starting with "{" is JSON.)
        return dict(parse_qsl(text, keep_blank_values=True))
    if content_type and not looks_json and "json" not in content_type and "text/plain" not in content_type:
        raise BadRequestError("unsupported content type")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequestError("body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise BadRequestError("body must be a JSON object")
    return value


def validate(model: type[M], fields: Mapping[str, Any]) -> M:
    """Validate fields into ``model``.

    Raises:
        ValidationError: with each bad field named.
    """
    try:
        return model.model_validate(dict(fields))
    except PydanticValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in err["loc"]) or "body"
            errors.setdefault(name, []).append(str(err["msg"]))
        raise ValidationError(errors) from exc


def max_body_bytes() -> int:
    from shared.config import get_settings

    return get_settings().max_body_bytes


def parse(app: APIGatewayRestResolver, model: type[M], max_bytes: int | None = None) -> M:
    """Parse and validate the current request body (at most ``MAX_BODY_BYTES`` unless given)."""
    limit = max_body_bytes() if max_bytes is None else max_bytes
    return validate(model, body_fields(app.current_event.raw_event, limit))


def client_info(app: APIGatewayRestResolver) -> ClientInfo:
    """Source IP and User-Agent of the current request."""
    event = app.current_event.raw_event
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return ClientInfo(ip=identity.get("sourceIp"), user_agent=header(event.get("headers"), "user-agent"))


def caller(app: APIGatewayRestResolver) -> dict[str, str]:
    """The authorizer's context (``user_id``, ``session_id``, ``app_name``, ``roles``, ``permissions``).

    Raises:
        UnauthorizedError: the route was reached without an authorizer context.
    """
    context = ((app.current_event.raw_event.get("requestContext") or {}).get("authorizer")) or {}
    if not context.get("user_id"):
        raise UnauthorizedError()
    return {k: str(v) for k, v in context.items() if v is not None}


def ok(app: APIGatewayRestResolver, data: Any, status: int = 200, no_store: bool = False) -> Response[str]:
    """A success envelope."""
    lang = language(app.current_event.headers)
    headers = {**JSON_HEADERS, **(NO_STORE_HEADERS if no_store else {})}
    return Response(status_code=status, headers=headers, body=dumps(success_body(data, status=status, lang=lang)))


def raw(data: Any, status: int = 200, no_store: bool = False) -> Response[str]:
    """A response without the envelope (OAuth2 token endpoint, JWKS)."""
    headers = {**JSON_HEADERS, **(NO_STORE_HEADERS if no_store else {})}
    return Response(status_code=status, headers=headers, body=dumps(data))


def error_response(app: APIGatewayRestResolver, error: AppError) -> Response[str]:
    lang = language(app.current_event.headers)
    headers = {**JSON_HEADERS, **error.headers}
    return Response(status_code=error.status, headers=headers, body=dumps(error_body(error, lang=lang)))


def with_cors(event: Mapping[str, Any], response: dict[str, Any], origins: tuple[str, ...]) -> dict[str, Any]:
    """Add CORS headers for an allowed ``Origin`` (``*`` allows any; bearer tokens, no cookies)."""
    origin = header(event.get("headers"), "origin")
    if not origin or not origins:
        return response
    if "*" in origins:
        allowed = "*"
    elif origin in origins:
        allowed = origin
    else:
        return response
    headers = response.setdefault("headers", {}) or {}
    headers["Access-Control-Allow-Origin"] = allowed
    headers["Access-Control-Expose-Headers"] = "Retry-After"
    if allowed != "*":
        headers["Vary"] = "Origin"
    response["headers"] = headers
    return response


def request_id(app: APIGatewayRestResolver) -> str:
    return str((app.current_event.raw_event.get("requestContext") or {}).get("requestId") or "")


def install_error_handlers(app: APIGatewayRestResolver, logger: Any) -> None:
    """The one place where exceptions become envelopes (API.md section 9)."""
    from pynamodb.exceptions import PynamoDBException

    @app.exception_handler(AppError)  # type: ignore[untyped-decorator]
    def handle_app_error(exc: AppError) -> Response[str]:
        if exc.status >= 500:
            logger.warning("request failed", extra={"error": exc.code})
        return error_response(app, exc)

    @app.exception_handler(PynamoDBException)  # type: ignore[untyped-decorator]
    def handle_database_error(exc: PynamoDBException) -> Response[str]:
        from shared.db.table import error_code

        logger.error("database failure", extra={"error": type(exc).__name__, "cause": error_code(exc)})
        return error_response(app, ServiceUnavailableError())

    @app.exception_handler(RouteNotFound)  # type: ignore[untyped-decorator]
    def handle_not_found(exc: RouteNotFound) -> Response[str]:
        return error_response(app, NotFoundError())

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def handle_unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(app, InternalError(data={"request_id": request_id(app)}))
