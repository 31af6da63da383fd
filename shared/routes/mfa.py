"""Second factors (API.md section 12): TOTP set-up and recovery codes for the signed-in user, and the
second step of a sign-in (``mfa_token`` from a sign-in that answered ``mfa_required``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from shared import http
from shared.container import get_services
from shared.errors import AppError
from shared.observability import logger, metrics, tracer
from shared.schemas import MfaCodeBody, MfaTokenBody, MfaVerifyBody
from shared.views import MfaSignIn, MfaStatus, RecoveryCodes, TotpSetupView

router = http.router()


def _status(user_id: str) -> MfaStatus:
    mfa = get_services().accounts.item(user_id).mfa
    return MfaStatus(totp=mfa.enabled, recovery_codes_left=len(mfa.recovery_codes))


@router.get("/api/auth/mfa", **http.requires("user"), **http.answers(MfaStatus))
def mfa_status(me: http.Me) -> Response[str]:
    """Whether TOTP is on, and how many recovery codes are left."""
    return http.ok(router, _status(me.user_id))


@router.post("/api/auth/mfa/totp/setup", **http.requires("user"), **http.answers(TotpSetupView))
@tracer.capture_method
def totp_setup(me: http.Me) -> Response[str]:
    """A new secret for an authenticator app; TOTP is on once a code from it is confirmed (10 minutes)."""
    setup = get_services().mfa.setup(me.user_id)
    return http.ok(router, TotpSetupView(secret=setup.secret, otpauth_uri=setup.otpauth_uri), no_store=True)


@router.post("/api/auth/mfa/totp/confirm", **http.requires("user"), **http.answers(RecoveryCodes))
@tracer.capture_method
def totp_confirm(body: MfaCodeBody, me: http.Me, client: http.Client) -> Response[str]:
    """Turn TOTP on with a code from the new secret: ten recovery codes, shown this once."""
    codes = get_services().mfa.confirm(me.user_id, body.code, client)
    logger.info("second factor on", extra={"user_id": me.user_id})
    return http.ok(router, RecoveryCodes(recovery_codes=codes), no_store=True)


@router.post("/api/auth/mfa/recovery-codes", **http.requires("user"), **http.answers(RecoveryCodes))
@tracer.capture_method
def recovery_codes(body: MfaCodeBody, me: http.Me, client: http.Client) -> Response[str]:
    """Ten new recovery codes (the old ones stop working), proven by a current code."""
    codes = get_services().mfa.new_recovery_codes(me.user_id, body.code, client)
    return http.ok(router, RecoveryCodes(recovery_codes=codes), no_store=True)


@router.delete("/api/auth/mfa/totp", **http.requires("user"), **http.answers(MfaStatus))
@tracer.capture_method
def totp_disable(body: MfaCodeBody, me: http.Me, client: http.Client) -> Response[str]:
    """Turn TOTP off, proven by a current TOTP or recovery code."""
    get_services().mfa.disable(me.user_id, body.code, client)
    logger.info("second factor off", extra={"user_id": me.user_id})
    return http.ok(router, _status(me.user_id))


@router.post("/api/auth/mfa/enroll", **http.answers(TotpSetupView))
@tracer.capture_method
def enroll(body: MfaTokenBody) -> Response[str]:
    """A sign-in answered ``methods: ["enroll"]`` (the app requires a second factor): a secret to set up;
    ``/api/auth/mfa/verify/`` with a code from it turns TOTP on and finishes the sign-in."""
    setup = get_services().mfa.enroll(body.mfa_token)
    return http.ok(router, TotpSetupView(secret=setup.secret, otpauth_uri=setup.otpauth_uri), no_store=True)


@router.post("/api/auth/mfa/verify", **http.answers(MfaSignIn))
@tracer.capture_method
def verify(body: MfaVerifyBody, client: http.Client) -> Response[str]:
    """Finish a sign-in with a TOTP or recovery code: the usual sign-in data (and ``recovery_codes`` when
    it enrolled). Wrong codes count toward the account's lockout, like wrong passwords."""
    try:
        step = get_services().mfa.verify(body.mfa_token, body.code, client)
    except AppError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("user signed in", extra={"user_id": step.signed_in.user_id, "mfa": True})
    return http.ok(router, MfaSignIn.of_result(step.signed_in, recovery_codes=step.recovery_codes), no_store=True)
