"""The response envelope of API.md section 1, and the one mapping from errors to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.errors import AppError

SUCCESS_MESSAGES = {"zh": "ok", "en": "ok"}  # as in API.md's envelope example
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def iso_now(now: datetime | None = None) -> str:
    """UTC time as ``2026-11-21T12:00:00Z``."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def language(headers: Mapping[str, str] | None) -> str:
    """``en`` when the request asks for English first, else ``zh`` (the default of this API)."""
    if not headers:
        return "zh"
    for key, value in headers.items():
        if key.lower() == "accept-language" and value and value.strip().lower().startswith("en"):
            return "en"
    return "zh"


def success_body(data: Any, *, status: int = 200, lang: str = "zh") -> dict[str, Any]:
    """The success envelope around ``data``."""
    return {
        "success": True,
        "code": status,
        "message": SUCCESS_MESSAGES.get(lang, "ok"),
        "data": data,
        "timestamp": iso_now(),
    }


def error_body(error: AppError, *, lang: str = "zh") -> dict[str, Any]:
    """The error envelope of ``error``; ``errors`` appears only on 422."""
    body: dict[str, Any] = {
        "success": False,
        "code": error.status,
        "message": error.message(lang),
        "error": error.code,
        "data": error.data,
        "timestamp": iso_now(),
    }
    if error.status == 422:
        body["errors"] = error.errors or {}
    return body


def dumps(body: Any) -> str:
    """Compact JSON that keeps Chinese characters readable."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
