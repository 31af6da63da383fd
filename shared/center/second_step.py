"""The second step of a sign-in at the center (issue 13): the page that asks for the TOTP or a recovery
code (or, when the app requires a second factor the user lacks, sets one up), and the recovery codes
shown once after enrolling.

A sign-in that needs its second factor keeps its ``mfa_token`` in a ``__Host-`` cookie of this browser
(5 minutes, like the token), never in a URL: the views ``tab=mfa`` / ``tab=mfa_recovery`` of the
authorization page (or of ``/login``) read it from there, so a WeChat round trip or a QR poll that ends in
a second step simply comes back to that view.
"""

from __future__ import annotations

import segno
from aws_lambda_powertools.event_handler import Response

from shared.center import pages
from shared.center.call import Call
from shared.center.guard import host_cookie
from shared.services.mfa_gate import TICKET_SECONDS

MFA_COOKIE = "__Host-uc_mfa"
VIEWS = ("mfa", "mfa_recovery")


def token_of(call: Call) -> str:
    return call.cookies.get(MFA_COOKIE, "")


def waiting(call: Call) -> bool:
    """This browser holds a center sign-in waiting for its second factor."""
    token = token_of(call)
    return bool(token) and call.services.mfa.waiting(token, center=True) is not None


def page(
    call: Call,
    form_targets: list[str],
    token: str | None = None,
    view: str = "mfa",
    error: str | None = None,
    status: int = 200,
) -> Response[str]:
    """The second-step view; ``token``: a sign-in just held (its cookie is set with this page)."""
    mfa_token = token or token_of(call)
    data = call.services.mfa.waiting(mfa_token, center=True) or {}
    enrol = None
    if data.get("enroll"):
        setup = call.services.mfa.enroll(mfa_token)
        enrol = {"secret": setup.secret, "qr": segno.make(setup.otpauth_uri, error="m").svg_data_uri(scale=5)}
    cookies = [host_cookie(MFA_COOKIE, token, max_age=TICKET_SECONDS)] if token else []
    return call.page(
        "mfa.html",
        status,
        form_targets=form_targets,
        csrf=True,
        cookies=cookies,
        action=call.here(tab="mfa"),
        enrol=enrol,
        recovery=view == "mfa_recovery" and enrol is None,
        recovery_url=call.here(tab="mfa_recovery"),
        totp_url=call.here(tab="mfa"),
        restart_url=call.here(tab="password"),
        error=error,
    )


def codes_page(call: Call, codes: list[str], continue_url: str) -> Response[str]:
    """The recovery codes of a second factor just set up at sign-in, shown once; then on to the client."""
    response = call.page("recovery_codes.html", codes=codes, continue_url=continue_url)
    response.cookies.append(host_cookie(MFA_COOKIE, "", max_age=0))
    return response


def expired(call: Call) -> str:
    return pages.text("mfa_expired", call.lang)
