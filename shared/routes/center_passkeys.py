"""Passkeys on the sign-in center's pages (issue 13): the page's script signs in with a passkey (a
button, or the browser's autofill) and adds one after a sign-in or from the account page. Served by the
passkeys function (the one with ``fido2``); the answers are the center session's cookie, not tokens.

Every call comes from the center's own page: its CSRF token in ``X-CSRF-Token`` equal to the page's
``__Host-`` cookie, and the browser's ``Origin`` the center's (``shared.center.guard``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.center import guard
from shared.config import get_settings
from shared.container import get_services
from shared.db.center_sessions import CenterSession
from shared.errors import PermissionDeniedError, UnauthorizedError
from shared.observability import logger, tracer
from shared.schemas import PasskeyLoginBody, PasskeyRegisterBody
from shared.services.center_sessions import COOKIE
from shared.services.passkeys import AMR, RelyingParty, relying_party
from shared.views import Done, PasskeyView, WebAuthnOptions

router = http.router()


def _checked() -> tuple[dict[str, str], str]:
    """The request's cookies and the center's issuer, once the request is proven the page's own.

    Raises:
        PermissionDeniedError: another site's request, or a page's token that does not match.
    """
    event: dict[str, Any] = dict(router.current_event.raw_event)
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    cookies = guard.cookies_of(headers)
    issuer = guard.issuer_of(event)
    token = http.header(headers, "x-csrf-token")
    if not guard.csrf_passes(token, cookies.get(guard.CSRF_COOKIE), headers, issuer):
        raise PermissionDeniedError("not the center's page")
    return cookies, issuer


def _rp(issuer: str) -> RelyingParty:
    return relying_party(get_settings(), issuer)


def _session(cookies: dict[str, str]) -> CenterSession:
    session = get_services().center_sessions.current(cookies.get(COOKIE))
    if session is None:
        raise UnauthorizedError()
    return session


@router.post("/center/passkeys/login/options", **http.answers(WebAuthnOptions))
def login_options() -> Response[str]:
    """Request options for the page's passkey button or autofill."""
    _, issuer = _checked()
    return http.ok(router, WebAuthnOptions(**get_services().passkeys.login_options(_rp(issuer))), no_store=True)


@router.post("/center/passkeys/login", **http.answers(Done))
@tracer.capture_method
def login(body: PasskeyLoginBody) -> Response[str]:
    """A passkey sign-in at the center: the center session (two factors), then the page goes on."""
    _, issuer = _checked()
    services = get_services()
    record = services.passkeys.authenticate(body.challenge_id, body.credential, _rp(issuer))
    cookie_value, session = services.center_sessions.open(record.user.user_id, record.rev, AMR)
    logger.info("center sign-in", extra={"user_id": record.user.user_id, "passkey": True})
    response = http.ok(router, Done(), no_store=True)
    response.cookies.append(
        guard.host_cookie(COOKIE, cookie_value, max_age=int(session.expires_at - session.auth_time))
    )
    return response


@router.post("/center/passkeys/register/options", **http.answers(WebAuthnOptions))
def register_options() -> Response[str]:
    """Creation options for the person signed in at the center."""
    cookies, issuer = _checked()
    options = get_services().passkeys.registration_options(_session(cookies).user_id, _rp(issuer))
    return http.ok(router, WebAuthnOptions(**options), no_store=True)


@router.post("/center/passkeys/register", status_code=201, **http.answers(PasskeyView, 201))
@tracer.capture_method
def register(body: PasskeyRegisterBody) -> Response[str]:
    """Keep the passkey the page's ``navigator.credentials.create`` made."""
    cookies, issuer = _checked()
    user_id = _session(cookies).user_id
    event: dict[str, Any] = dict(router.current_event.raw_event)
    passkey = get_services().passkeys.register(
        user_id, body.credential, body.name, _rp(issuer), http.client_info(event)
    )
    return http.ok(router, PasskeyView.of(passkey), status=201)
