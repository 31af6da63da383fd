"""The center's request helpers that need no page library (the passkeys function uses them too): its
issuer URL, the request's cookies and the ``__Host-`` cookies it sets, and the CSRF check of a form or a
script's request (a per-page token in a ``__Host-`` cookie and in the form or an ``X-CSRF-Token``
header, and the browser's ``Origin`` / ``Sec-Fetch-Site``).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from shared import http
from shared.config import get_settings
from shared.urls import url_origin

CSRF_COOKIE = "__Host-uc_csrf"


def issuer_of(event: dict[str, Any]) -> str:
    """The center's public URL: ``ISSUER_URL`` when set (a custom domain), else the request's own
    (``http.public_url``: ``https://<host>/<stage>`` on API Gateway's domain, ``http://127.0.0.1:3000``
    under ``make run``)."""
    configured = get_settings().issuer_url
    return configured.rstrip("/") if configured else http.public_url(event)


def host_cookie(name: str, value: str, max_age: int, same_site: SameSite = SameSite.LAX_MODE) -> Cookie:
    """A ``__Host-`` cookie: Secure, HttpOnly, Path=/, no Domain (browsers treat loopback as secure)."""
    return Cookie(name, value, path="/", secure=True, http_only=True, max_age=max_age, same_site=same_site)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_passes(form_token: str | None, cookie_token: str | None, headers: dict[str, str], issuer: str) -> bool:
    """A form post is the center's own: the form's token equals the cookie's (a ``__Host-`` cookie no
    other site or subdomain can set), and the browser says it came from this origin (``Origin`` when
    sent, ``Sec-Fetch-Site`` when sent; a browser that sends neither still needs the token)."""
    if not form_token or not cookie_token or not hmac.compare_digest(form_token, cookie_token):
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    origin = lowered.get("origin")
    if origin and origin != "null" and origin != url_origin(issuer):
        return False
    if origin == "null":
        return False
    site = lowered.get("sec-fetch-site")
    return site in (None, "same-origin", "none")


def cookies_of(headers: dict[str, str]) -> dict[str, str]:
    """The request's cookies by name (the first of a repeated name)."""
    found: dict[str, str] = {}
    for key, value in headers.items():
        if key.lower() != "cookie":
            continue
        for part in value.split(";"):
            name, _, content = part.strip().partition("=")
            if name and name not in found:
                found[name] = content
    return found
