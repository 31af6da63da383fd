"""Passkeys (API.md section 12): registration and management for the signed-in user, and a sign-in
that needs no username (a discoverable credential). Served by the passkeys function only, the one
function with ``fido2`` (layers/passkeys)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from shared import http
from shared.config import get_settings
from shared.container import get_services
from shared.errors import AppError
from shared.observability import logger, metrics, tracer
from shared.schemas import PasskeyLoginBody, PasskeyOptionsBody, PasskeyRegisterBody
from shared.services.passkeys import RelyingParty, relying_party
from shared.views import Deleted, PasskeyList, PasskeyView, SignIn, WebAuthnOptions

router = http.router()


def _rp() -> RelyingParty:
    return relying_party(get_settings(), http.public_url(router.current_event.raw_event))


@router.post("/api/auth/passkeys/register/options", **http.requires("user"), **http.answers(WebAuthnOptions))
@tracer.capture_method
def register_options(me: http.Me) -> Response[str]:
    """Creation options for ``navigator.credentials.create`` (a discoverable credential, user
    verification required); the challenge lasts 5 minutes and is used once."""
    options = get_services().passkeys.registration_options(me.user_id, _rp())
    return http.ok(router, WebAuthnOptions(**options), no_store=True)


@router.post(
    "/api/auth/passkeys/register/verify", status_code=201, **http.requires("user"), **http.answers(PasskeyView, 201)
)
@tracer.capture_method
def register_verify(body: PasskeyRegisterBody, me: http.Me, client: http.Client) -> Response[str]:
    """Keep the passkey ``navigator.credentials.create`` made for the options above."""
    passkey = get_services().passkeys.register(me.user_id, body.credential, body.name, _rp(), client)
    logger.info("passkey added", extra={"user_id": me.user_id})
    return http.ok(router, PasskeyView.of(passkey), status=201)


@router.get("/api/auth/passkeys", **http.requires("user"), **http.answers(PasskeyList))
def list_passkeys(me: http.Me) -> Response[str]:
    """The caller's passkeys, oldest first."""
    return http.ok(router, PasskeyList(items=[PasskeyView.of(p) for p in get_services().passkeys.list(me.user_id)]))


@router.delete("/api/auth/passkeys/<passkey_id>", **http.requires("user"), **http.answers(Deleted))
@tracer.capture_method
def delete_passkey(passkey_id: str, me: http.Me, client: http.Client) -> Response[str]:
    """Remove one of the caller's passkeys (404 for anyone else's)."""
    get_services().passkeys.remove(me.user_id, passkey_id[:1400], client)
    return http.ok(router, Deleted())


@router.post("/api/auth/passkeys/login/options", **http.answers(WebAuthnOptions))
@tracer.capture_method
def login_options(body: PasskeyOptionsBody | None = None) -> Response[str]:
    """Request options for ``navigator.credentials.get`` (or autofill) and the ``challenge_id`` to send
    back with the answer; no username needed."""
    return http.ok(router, WebAuthnOptions(**get_services().passkeys.login_options(_rp())), no_store=True)


@router.post("/api/auth/passkeys/login/verify", **http.answers(SignIn))
@tracer.capture_method
def login_verify(body: PasskeyLoginBody, client: http.Client) -> Response[str]:
    """Sign in with what ``navigator.credentials.get`` answered: the usual login data."""
    try:
        result = get_services().passkeys.sign_in(body.challenge_id, body.credential, body.app_name, _rp(), client)
    except AppError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("user signed in", extra={"user_id": result.user_id, "passkey": True})
    return http.ok(router, SignIn.of_result(result), no_store=True)
