"""One request to the sign-in center (``Call``): its event, issuer, cookies, form, language, Authlib's
view of it, and how it answers (pages with their security headers, ``__Host-`` cookies, redirects).
Shared by the center's routes (``shared.routes.center``) and its page steps (``shared.center.second_step``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from shared import http
from shared.center import guard, pages
from shared.center.guard import host_cookie, issuer_of
from shared.center.protocol import Answer, EventRequest, Provider, with_params
from shared.container import Services
from shared.envelope import NO_STORE_HEADERS
from shared.services.center_sessions import COOKIE


def headers_of(event: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (event.get("headers") or {}).items()}


def form_of(event: dict[str, Any]) -> dict[str, str]:
    """The body's fields (``http.serve`` made a form a JSON object); non-string values are dropped."""
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in body.items() if isinstance(v, str)} if isinstance(body, dict) else {}


class Call:
    """One request to the center: its event, issuer, cookies, language and Authlib's view of it."""

    def __init__(self, services: Services, event: dict[str, Any]) -> None:
        self.services = services
        self.event = event
        self.issuer = issuer_of(self.event)
        self.headers = headers_of(self.event)
        self.cookies = guard.cookies_of(self.headers)
        self.form = form_of(self.event)
        self.query = {k: v for k, v in (self.event.get("queryStringParameters") or {}).items() if isinstance(v, str)}
        self.lang = pages.language(
            self.query.get("ui_locales") or self.form.get("ui_locales"),
            http.header(self.headers, "accept-language"),
        )
        self.provider = Provider(
            services.center,
            services.sessions,
            self.issuer,
            services.tokens.keys.ring().jwks(),
            self.cookies.get(COOKIE),
        )

    def request(self, form: dict[str, str] | None = None) -> EventRequest:
        path = str(self.event.get("path") or "/")
        return EventRequest(
            self.event, self.issuer + path, self.form if form is None else form, http.client_info(self.event)
        )

    @property
    def base(self) -> str:
        """The path prefix of the center's own URLs (the stage on API Gateway's domain)."""
        return urlsplit(self.issuer).path.rstrip("/")

    def here(self, **changes: str) -> str:
        """This page's URL (path and query, the query changed by ``changes``)."""
        query = {**self.query, **changes}
        path = self.base + str(self.event.get("resource") or self.event.get("path") or "/")
        return with_params(path, list(query.items())) if query else path

    def page(
        self,
        template: str,
        status: int = 200,
        form_targets: list[str] | None = None,
        frames: list[str] | None = None,
        csrf: bool = False,
        cookies: list[Cookie] | None = None,
        **context: Any,
    ) -> Response[str]:
        jar = list(cookies or [])
        if csrf:
            token = guard.new_csrf_token()
            context["csrf_token"] = token
            jar.append(host_cookie(guard.CSRF_COOKIE, token, max_age=3600, same_site=SameSite.STRICT_MODE))
        switch = "en" if self.lang == "zh" else "zh"
        body = pages.render(template, self.lang, base=self.base, switch_url=self.here(ui_locales=switch), **context)
        return Response(status, headers=pages.security_headers(form_targets, frames), body=body, cookies=jar)

    def message(self, title: str, message: str, status: int, alert: bool = True) -> Response[str]:
        return self.page("message.html", status, title=title, message=message, alert=alert)

    def csrf_passes(self) -> bool:
        return guard.csrf_passes(
            self.form.get("csrf_token"), self.cookies.get(guard.CSRF_COOKIE), self.headers, self.issuer
        )


def answer_of(answer: Answer, cookies: list[Cookie] | None = None) -> Response[str]:
    """An Authlib answer as a response: JSON bodies for the back-channel endpoints, redirects for the
    browser."""
    headers: dict[str, str] = {k: v for k, v in answer.headers}
    if answer.status in (301, 302, 303):
        headers.setdefault("Cache-Control", "no-store")
        return Response(302, headers=headers, body="", cookies=list(cookies or []))
    headers.update({"Content-Type": "application/json", **NO_STORE_HEADERS})
    body = json.dumps(answer.body if answer.body is not None else {}, separators=(",", ":"))
    return Response(answer.status, headers=headers, body=body, cookies=list(cookies or []))


def redirect_to(location: str) -> Response[str]:
    return Response(302, headers={"Location": location, "Cache-Control": "no-store"}, body="")
