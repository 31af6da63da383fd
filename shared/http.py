"""The thin HTTP edge shared by every function: body parsing, the caller, and error mapping.

All exception-to-response mapping lives in :func:`install_error_handlers`; handlers only raise typed
errors. Bodies are JSON (``application/json`` or ``application/*+json``) or
``application/x-www-form-urlencoded``; any other content type, malformed JSON, or JSON nested deeper
than :data:`MAX_JSON_DEPTH` is a 400 (API.md section 1). ``text/plain`` is refused on purpose: a
cross-site form or ``fetch`` can send it without a CORS preflight.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Depends, Request, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.authorizer import Principal
from shared.domain import ClientInfo
from shared.envelope import JSON_HEADERS, NO_STORE_HEADERS, dumps, error_body, language, success_body
from shared.errors import (
    AppError,
    BadRequestError,
    InternalError,
    MfaRequired,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationError,
)

M = TypeVar("M", bound=BaseModel)

MAX_JSON_DEPTH = 32
FORM_TYPE = "application/x-www-form-urlencoded"
# What changes the nesting depth of JSON text: brackets, and quotes and backslashes (brackets inside
# strings do not count).
_JSON_STRUCTURE_RE = re.compile(r'[\[\]{}"\\]')


REQUIREMENT = "x-requirement"  # OpenAPI extension naming what a protected route needs


def requires(requirement: str) -> dict[str, Any]:
    """Route decorator arguments for a protected route: the bearer token, and what the route needs
    (``user``, ``role:<code>`` or ``perm:<code>``), written into its OpenAPI operation. The authorizer's
    route map is generated from those operations at build time (``scripts/openapi.py``), so a route says
    everything about its protection where it is defined::

        @app.get("/api/users", **http.requires("perm:system:user:list"))
    """
    kind = requirement.partition(":")[0]
    if kind not in ("user", "role", "perm") or (kind != "user" and not requirement.partition(":")[2]):
        raise ValueError(f"not a route requirement: {requirement!r}")
    return {"security": [{"bearerAuth": []}], "openapi_extensions": {REQUIREMENT: requirement}}


ANSWER = "Success: the envelope, its `data` as described"  # marks a response declared with ``answers``


def answers(model: Any, status: int = 200) -> dict[str, Any]:
    """Route decorator arguments naming what the route answers in the envelope's ``data`` (a response
    model of ``shared.views``, or a type such as ``str``): the OpenAPI document describes it inside the
    envelope (``buildtools/openapi.py``), and schemathesis checks every answer against it::

        @router.get("/api/auth/user/info", **http.requires("user"), **http.answers(UserInfo))
    """
    return {"responses": {status: {"description": ANSWER, "content": {"application/json": {"model": model}}}}}


RAW = "x-raw"  # OpenAPI extension: the route answers without the envelope (json, html or redirect)


def raw_route(kind: str) -> dict[str, Any]:
    """Route decorator arguments for a route that answers without the envelope (RFC formats, the JWKS,
    the docs, redirects; ``page``: the sign-in center's pages, which answer errors as pages too): the
    OpenAPI document describes it as such (``buildtools/openapi.py``)."""
    if kind not in ("json", "html", "redirect", "page"):
        raise ValueError(f"not a raw route kind: {kind!r}")
    return {"openapi_extensions": {RAW: kind}}


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, case-insensitively."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def public_url(event: Mapping[str, Any]) -> str:
    """This API's base URL as the browser reaches it: its ``Host`` (``http://`` on a loopback host, the
    local server), plus what API Gateway put before the route's path: the stage on its own
    ``execute-api`` domain, the base path mapping on a custom domain."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    host = headers.get("host") or str(context.get("domainName") or "localhost")
    loopback = host.rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]")
    proto = headers.get("x-forwarded-proto") or ("http" if loopback else "https")
    request_path, path = str(context.get("path") or ""), str(event.get("path") or "")
    prefix = "" if loopback or not request_path.endswith(path) else request_path[: len(request_path) - len(path)]
    return f"{proto}://{host}{prefix}"


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


def media_type(content_type: str | None) -> str:
    """``type/subtype`` of a Content-Type, lower-cased, without parameters (``charset`` ...)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(media: str) -> bool:
    """``application/json`` or a structured ``application/*+json`` type (RFC 6839)."""
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays and objects in ``text`` nest deeper than ``limit``.

    A linear scan that jumps between brackets and quotes, run before ``json.loads``: the parser
    recurses once per level, so deep input would otherwise end in a ``RecursionError`` (a 500). Text that
    is not valid JSON may be judged either way; the parser refuses it next.
    """
    depth = 0
    in_string = False
    skip_to = 0  # the character after a backslash inside a string is escaped
    for match in _JSON_STRUCTURE_RE.finditer(text):
        position = match.start()
        if position < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip_to = position + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def body_fields(event: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The body as a dict: a JSON object, or form fields; an empty body is ``{}``.

    A form-typed body that starts with ``{``, ``[`` or ``"`` is read as JSON: ``curl -d '{...}'`` sends
    JSON with the form content type.

    Raises:
        BadRequestError: a content type other than JSON or form (or none, with a body), invalid JSON,
            JSON nested deeper than ``MAX_JSON_DEPTH``, a JSON value that is not an object, or
            undecodable bytes.
        PayloadTooLargeError: the body is too large.
    """
    data = raw_body(event, max_bytes)
    if not data.strip():
        return {}
    media = media_type(header(event.get("headers"), "content-type"))
    if media != FORM_TYPE and not is_json_type(media):
        raise BadRequestError("unsupported content type")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("body is not UTF-8") from exc
    if media == FORM_TYPE and text.lstrip()[:1] not in ("{", "[", '"'):
        return dict(parse_qsl(text, keep_blank_values=True))
    if json_too_deep(text):
        raise BadRequestError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except RecursionError as exc:  # belt and braces: the scan above should have refused it
        raise BadRequestError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
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


def parse(app: BaseRouter, model: type[M], max_bytes: int | None = None) -> M:
    """Parse and validate the current request body (at most ``MAX_BODY_BYTES`` unless given)."""
    limit = max_body_bytes() if max_bytes is None else max_bytes
    return validate(model, body_fields(app.current_event.raw_event, limit))


def resolver(logger: Any) -> APIGatewayRestResolver:
    """A function's resolver: Powertools validates each route's typed body, query and path parameters
    (one validation layer: the field rules live in the models of ``shared.schemas``), and every
    exception becomes an envelope in :func:`install_error_handlers`."""
    app = APIGatewayRestResolver(enable_validation=True)
    install_error_handlers(app, logger)
    return app


def router() -> Router:
    """A resource's router (``shared.routes``); a function's resolver includes it."""
    return Router()  # type: ignore[no-untyped-call]


def serve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    bad_body: Callable[[dict[str, Any], AppError], dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """Resolve one API Gateway event, after the checks API.md section 1 makes before any field is read
    (size, content type, UTF-8, JSON depth, a JSON object): a bad body is answered here with its 4xx
    envelope (or by ``bad_body``, for a route whose errors have another shape: the OAuth2 token
    endpoint). An empty body is ``{}``; a form-typed body that is JSON (``curl -d '{...}'``) is read as
    JSON; form fields become a JSON object of strings, validated by the same models."""
    from shared.config import get_settings
    from shared.observability import count_server_error, logger
    from shared.request_scope import begin_request

    # Each transaction of this request carries a ClientRequestToken derived from the request id, so a
    # commit whose answer was lost and is retried is not mistaken for a conflict (shared/request_scope.py).
    begin_request((event.get("requestContext") or {}).get("requestId"))
    settings = get_settings()
    try:
        prepared = prepare_body(event, body_limit(event, settings.max_body_bytes))
    except AppError as exc:
        logger.info("request refused", extra={"error": exc.code, "status": exc.status})
        answer = (bad_body(event, exc) if bad_body else None) or proxy_error(event, exc)
        return with_cors(event, answer, settings.cors_allowed_origins)
    except Exception:  # a bug in the checks themselves: a 500 envelope, logged with its trace
        logger.exception("unhandled error")
        count_server_error()
        request = str((event.get("requestContext") or {}).get("requestId") or "")
        return with_cors(
            event, proxy_error(event, InternalError(data={"request_id": request})), settings.cors_allowed_origins
        )
    return with_cors(prepared, app.resolve(prepared, context), settings.cors_allowed_origins)


LARGE_BODIES = {"/api/users/import": 4 * 1024 * 1024}  # 1,000 people with their hashes (super admin only)


def body_limit(event: dict[str, Any], default: int) -> int:
    """``MAX_BODY_BYTES``, or the larger limit of a route that takes many rows at once (``LARGE_BODIES``:
    API Gateway's authorizer has let only its callers through before the body is read)."""
    resource = str(event.get("resource") or event.get("path") or "").rstrip("/")
    return max(default, LARGE_BODIES.get(resource, 0))


def prepare_body(event: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """The event as Powertools should read it (see :func:`serve`): the body as one JSON object, whatever
    form it came in (JSON, form fields, empty), with that content type in both header maps.

    Raises:
        BadRequestError, PayloadTooLargeError: as :func:`body_fields`.
    """
    if str(event.get("httpMethod", "")).upper() in ("GET", "HEAD", "OPTIONS") and not event.get("body"):
        return event
    # Forms become the same JSON object (Powertools' own form reading does not fill optional fields).
    return _with_body(event, json.dumps(body_fields(event, max_bytes)), "application/json")


def _with_body(event: dict[str, Any], body: str, media: str) -> dict[str, Any]:
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = media
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    multi["Content-Type"] = [media]
    return {**event, "body": body, "isBase64Encoded": False, "headers": headers, "multiValueHeaders": multi}


def proxy_error(event: Mapping[str, Any], error: AppError) -> dict[str, Any]:
    """A 4xx/5xx envelope as an API Gateway proxy response, for errors found before routing."""
    lang = language(event.get("headers"))
    return {
        "statusCode": error.status,
        "headers": {**JSON_HEADERS, **error.headers},
        "body": dumps(error_body(error, lang=lang)),
        "isBase64Encoded": False,
    }


def current_caller(request: Request) -> Principal:
    """The caller of a protected route, from the authorizer's context (a ``Depends`` dependency).

    Raises:
        UnauthorizedError: the route was reached without an authorizer context.
    """
    context = (request.resolved_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    if not context.get("user_id"):
        raise UnauthorizedError()
    return Principal.from_context(context)


def current_client(request: Request) -> ClientInfo:
    """Source IP and User-Agent of the request (a ``Depends`` dependency)."""
    return client_info(request.resolved_event.raw_event)


def client_info(event: Mapping[str, Any]) -> ClientInfo:
    """Source IP and User-Agent of an API Gateway event."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return ClientInfo(ip=identity.get("sourceIp"), user_agent=header(event.get("headers"), "user-agent"))


Me = Annotated[Principal, Depends(current_caller)]
Client = Annotated[ClientInfo, Depends(current_client)]


def validation_errors(errors: Sequence[Any]) -> dict[str, list[str]]:
    """Powertools' validation errors as the envelope's ``errors``: each bad field named (``body``,
    ``query`` and ``path`` prefixes dropped; nested fields dotted), every one listed."""
    named: dict[str, list[str]] = {}
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "response") and len(loc) > 1:
            loc = loc[1:]
        name = ".".join(loc) or "body"
        named.setdefault(name, []).append(str(err.get("msg") or err.get("type") or "invalid"))
    return named


def ok(app: BaseRouter, data: Any, status: int = 200, no_store: bool = False) -> Response[str]:
    """A success envelope around ``data`` (a response model, or plain JSON data)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in data]
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

    from shared.observability import count_server_error

    @app.exception_handler(AppError)  # type: ignore[untyped-decorator]
    def handle_app_error(exc: AppError) -> Response[str]:
        # A refused request is expected: one INFO line with its code, no stack trace and no detail (the
        # detail may quote the input). Only server-side failures are warnings.
        if exc.status >= 500:
            logger.warning("request failed", extra={"error": exc.code, "status": exc.status})
            count_server_error()
        else:
            logger.info("request refused", extra={"error": exc.code, "status": exc.status})
        return error_response(app, exc)

    @app.exception_handler(MfaRequired)  # type: ignore[untyped-decorator]
    def handle_mfa_required(exc: MfaRequired) -> Response[str]:
        # Any sign-in route: the first factor passed and the second is due (API.md section 12).
        logger.info("second factor due", extra={"methods": exc.methods})
        return ok(app, exc.data, no_store=True)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def handle_validation_error(exc: RequestValidationError) -> Response[str]:
        logger.info("request refused", extra={"error": "VALIDATION_ERROR", "status": 422})
        return error_response(app, ValidationError(validation_errors(exc.errors())))

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def handle_content_type(exc: RequestUnsupportedContentType) -> Response[str]:
        logger.info("request refused", extra={"error": "BAD_REQUEST", "status": 400})
        return error_response(app, BadRequestError("unsupported content type"))

    @app.exception_handler(PynamoDBException)  # type: ignore[untyped-decorator]
    def handle_database_error(exc: PynamoDBException) -> Response[str]:
        from shared.db.table import error_code

        logger.error("database failure", extra={"error": type(exc).__name__, "cause": error_code(exc)})
        count_server_error()
        return error_response(app, ServiceUnavailableError())

    @app.exception_handler(RouteNotFound)  # type: ignore[untyped-decorator]
    def handle_not_found(exc: RouteNotFound) -> Response[str]:
        return error_response(app, NotFoundError())

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def handle_unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        count_server_error()
        return error_response(app, InternalError(data={"request_id": request_id(app)}))
