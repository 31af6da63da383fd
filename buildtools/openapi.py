"""The API's OpenAPI document and the authorizer's route map, both generated from the functions' routes.

    python -m buildtools.openapi document > docs/openapi.json   # `make openapi`
    python -m buildtools.openapi routes                         # routes.json, for the authorizer's build

Each function's resolver describes its routes (``shared.http.requires`` writes a protected route's
requirement into its operation as ``x-requirement``); this merges them into one OpenAPI 3.1 document
(Powertools ``OpenAPIMerge``) and derives the authorizer's route map from it. template.yaml says which
events exist and which ones the authorizer guards; a guarded route without a requirement, or a route
that is documented but not deployed (or the reverse), is a build error.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DOCUMENT = ROOT / "docs" / "openapi.json"
REQUIREMENT = "x-requirement"
RAW = "x-raw"
ERRORS = {
    400: "BAD_REQUEST (not JSON or a form, too deep, bad content type), PASSWORD_MISMATCH, CODE_INVALID, ...",
    401: "UNAUTHORIZED, INVALID_CREDENTIALS, TOKEN_INVALID / TOKEN_EXPIRED / TOKEN_REVOKED, REFRESH_TOKEN_REUSED",
    403: "PERMISSION_DENIED, USER_DISABLED",
    404: "NOT_FOUND",
    409: "USERNAME_TAKEN / EMAIL_TAKEN / PHONE_TAKEN, ROLE_IN_USE, RESOURCE_IN_USE, ACCOUNT_LINKED, ...",
    413: "PAYLOAD_TOO_LARGE (more than MAX_BODY_BYTES)",
    422: "VALIDATION_ERROR: `errors` names every failing field",
    429: "RATE_LIMITED: `data.retry_after` seconds, and a Retry-After header",
    500: "INTERNAL_ERROR: `data.request_id`",
    503: "SERVICE_UNAVAILABLE, UPSTREAM_UNAVAILABLE",
}
ENVELOPE = {
    "type": "object",
    "description": "Every JSON answer but the raw routes (API.md section 1): HTTP status = `code`.",
    "required": ["success", "code", "message", "data", "timestamp"],
    "properties": {
        "success": {"type": "boolean", "const": True},
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "data": {},
        "timestamp": {"type": "string"},
    },
}
ERROR_ENVELOPE = {
    "type": "object",
    "description": "An error: `error` is a stable code (API.md section 9), `message` is for people.",
    "required": ["success", "code", "message", "error", "timestamp"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "error": {"type": "string"},
        "data": {},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "timestamp": {"type": "string"},
    },
}
TITLE = "User Center API"
DESCRIPTION = (
    "Sign-up, sign-in, tokens, sessions, roles and permissions (the contract: API.md). Every JSON answer is "
    "the envelope {success, code, message, data, timestamp}; errors add `error` (a stable code) and, on 422, "
    "`errors` (every failing field). Protected routes take `Authorization: Bearer <access_token>`; what each "
    "one needs is its `x-requirement` (`user`, `role:<code>` or `perm:<code>` in the token's app)."
)


class RouteMapError(Exception):
    """The routes, the template and the requirements disagree (a build error)."""


@dataclass(frozen=True)
class Event:
    function: str
    method: str
    path: str  # template form: /api/users/{user_id}
    protected: bool


class _Loader(yaml.CSafeLoader):
    """Reads CloudFormation's short tags (``!Ref`` ...) as plain values; only the events are used."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def events(template: Path = TEMPLATE) -> list[Event]:
    """Every API event of every function in the template."""
    data = yaml.load(template.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    found = []
    for name, resource in (data.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            auth = props.get("Auth") or {}
            protected = bool(auth.get("Authorizer")) and auth.get("Authorizer") != "NONE"
            path = "/" + str(props["Path"]).strip("/")
            found.append(Event(name, str(props["Method"]).upper(), path, protected))
    return found


def code_dirs(template: Path = TEMPLATE) -> dict[str, Path]:
    data = yaml.load(template.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return {
        name: ROOT / str(resource["Properties"]["CodeUri"]).strip("/")
        for name, resource in (data.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and str(resource["Properties"].get("CodeUri", "")).startswith("functions/")
    }


def resolvers() -> dict[str, Any]:
    """The Powertools resolver of every function that has one (imported: they do no I/O at import)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    found = {}
    for function, code_dir in code_dirs().items():
        module = importlib.import_module(f"functions.{code_dir.name}.app")
        resolver = getattr(module, "app", None)
        if resolver is not None and hasattr(resolver, "get_openapi_schema"):
            found[function] = resolver
    return found


def document() -> dict[str, Any]:
    """One OpenAPI 3.1 document for the whole API."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    schemes = {"bearerAuth": HTTPBearer(bearerFormat="JWT", description="The access token of a sign-in")}
    merged = OpenAPIMerge(title=TITLE, version="1.0.0", description=DESCRIPTION, security_schemes=schemes)
    for resolver in resolvers().values():
        merged.add_schema(resolver.get_openapi_schema(title=TITLE, security_schemes=schemes))
    result: dict[str, Any] = json.loads(merged.get_openapi_json_schema())
    return with_envelopes(result)


def with_envelopes(doc: dict[str, Any]) -> dict[str, Any]:
    """Describe what the API really answers: every route's success in the envelope (its ``data`` as the
    route returns it), the error envelope for every error status, and the raw routes as they are."""
    from shared.http import ANSWER

    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    schemas["Envelope"] = ENVELOPE
    schemas["ErrorEnvelope"] = ERROR_ENVELOPE
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for item in (doc.get("paths") or {}).values():
        for operation in item.values():
            kind = operation.get(RAW)
            success = next((code for code in operation.get("responses", {}) if code.startswith("2")), "200")
            if kind == "redirect":
                responses: dict[str, Any] = {"302": {"description": "Redirect (Location header)"}}
            elif kind == "html":
                responses = {success: {"description": "An HTML page", "content": {"text/html": {"schema": {}}}}}
            elif kind == "page":  # the sign-in center's pages: a page, a redirect, or a page saying why not
                pages = {t: {"schema": {}} for t in ("text/html", "text/css", "text/javascript")}
                responses = {success: {"description": "A page", "content": pages}, "302": {"description": "Redirect"}}
            elif kind == "json":
                responses = {
                    success: {"description": "Raw JSON (no envelope)", "content": {"application/json": {"schema": {}}}}
                }
            elif operation.get("responses", {}).get(success, {}).get("description") == ANSWER:
                data = operation["responses"][success]["content"]["application/json"].get("schema", {})
                enveloped = {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {"properties": {"data": data}}]}
                content = {"application/json": {"schema": enveloped}}
                responses = {success: {"description": "Success, in the envelope", "content": content}}
            else:
                raise RouteMapError(f"{operation.get('operationId')}: no response model (http.answers)")
            # Raw JSON routes keep their own error shapes (RFC 6749 on the token endpoint) where they
            # have them; gateway and database errors are the envelope everywhere.
            errors = {"application/json": {"schema": {}}} if kind == "json" else error
            if kind == "page":
                errors = {"text/html": {"schema": {}}, **error}
            for status, text in ERRORS.items():
                responses[str(status)] = {"description": text, "content": errors}
            operation["responses"] = responses
    return doc


def _template_path(path: str) -> str:
    return "/" + path.strip("/")


def route_map(doc: dict[str, Any] | None = None, template: Path = TEMPLATE) -> dict[str, str]:
    """``{"METHOD /path/{param}": requirement}`` for every route the authorizer guards.

    Raises:
        RouteMapError: a guarded route has no requirement, or the template and the routes disagree.
    """
    doc = doc if doc is not None else document()
    operations = {
        (method.upper(), _template_path(path)): operation
        for path, item in (doc.get("paths") or {}).items()
        for method, operation in item.items()
    }
    functions = code_dirs(template)
    deployed = {(e.method, e.path): e for e in events(template) if e.function in functions}
    problems = [f"{m} {p}: in template.yaml, no handler" for (m, p) in deployed if (m, p) not in operations]
    problems += [f"{m} {p}: a handler, not in template.yaml" for (m, p) in operations if (m, p) not in deployed]
    routes: dict[str, str] = {}
    for key, event in sorted(deployed.items()):
        requirement = (operations.get(key) or {}).get(REQUIREMENT)
        if event.protected and not requirement:
            problems.append(f"{key[0]} {key[1]}: guarded by the authorizer, but its route declares no requirement")
        if requirement and not event.protected:
            problems.append(f"{key[0]} {key[1]}: declares {requirement}, but the authorizer does not guard it")
        if event.protected and requirement:
            routes[f"{key[0]} {key[1]}"] = str(requirement)
    if problems:
        raise RouteMapError("; ".join(problems))
    return routes


def document_json(doc: dict[str, Any] | None = None) -> str:
    return json.dumps(doc if doc is not None else document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "document"
    if command == "document":
        sys.stdout.write(document_json())
    elif command == "routes":
        sys.stdout.write(json.dumps(route_map(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stderr.write("usage: python -m buildtools.openapi [document|routes]\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
