"""Docs function: the API's OpenAPI document and a Swagger UI to try it (issue 9).

``GET /api/openapi.json`` answers the document (``docs/openapi.json``, generated from every function's
routes by ``make openapi`` and copied beside this file by the build); ``GET /api/docs`` answers a Swagger
UI page with Powertools' bundled Swagger UI inlined, so no third-party CDN is involved. The deployed stack
serves them unless its ``ServeApiDocs`` parameter is ``false``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.observability import logger

app = http.resolver(logger)

BESIDE = Path(__file__).with_name("openapi.json")  # the build puts the document here
IN_REPOSITORY = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"  # local mode


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    path = BESIDE if BESIDE.exists() else IN_REPOSITORY
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _served_document() -> dict[str, Any]:
    """The document with this API's base path as its server (the stage prefix on execute-api hosts)."""
    event = app.current_event.raw_event
    request_path = str((event.get("requestContext") or {}).get("path") or event.get("path") or "")
    path = str(event.get("path") or "")
    prefix = request_path[: len(request_path) - len(path)] if path and request_path.endswith(path) else ""
    return {**_document(), "servers": [{"url": prefix or "/"}]}


@app.get("/api/openapi.json", **http.raw_route("json"))
def openapi_document() -> Response[str]:
    """The OpenAPI 3.1 document of the whole API (raw JSON, not enveloped)."""
    return http.raw(_served_document())


@app.get("/api/docs", **http.raw_route("html"))
def swagger_ui() -> Response[str]:
    """A Swagger UI page for the document (``?format=json`` answers the document itself)."""
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return http.raw(_served_document())
    from aws_lambda_powertools.event_handler.openapi import swagger_ui as assets
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    # Deployed: copied beside this module by its build (the shared layer leaves them out); local: Powertools'
    own = Path(__file__).parent / "swagger_ui"
    folder = own if own.is_dir() else Path(assets.__file__).parent
    page = generate_swagger_html(
        json.dumps(_served_document()).replace("</", "<\\/"),
        (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
