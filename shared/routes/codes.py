"""One-time codes by SMS and email, the phone sign-in, phone change, password reset and invitees
(API.md sections 3 and 5)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from shared import http
from shared.container import get_services
from shared.domain import ClientInfo
from shared.observability import logger, metrics, tracer
from shared.schemas import (
    CaptchaFields,
    EmailCodeBody,
    PasswordResetBody,
    PhoneChangeBody,
    PhoneLoginBody,
    SmsCodeBody,
)
from shared.views import (
    CompatCodeSent,
    EmailCodeSent,
    Invitee,
    InviteeList,
    Revoked,
    SignIn,
    SignInOrUp,
    SmsCodeSent,
    UserInfo,
)

router = http.router()


def captcha_of(body: CaptchaFields) -> Callable[[], None] | None:
    """The check of the captcha a code request carries, if it carries one (used only when its IP is past
    its hourly share: ``CodeService.send``)."""
    if not body.captcha_key:
        return None
    return lambda: get_services().captchas.check(body.captcha_key, body.captcha_code)


@router.post("/api/auth/sms/code", **http.answers(SmsCodeSent))
@tracer.capture_method
def sms_code(body: SmsCodeBody, client: http.Client) -> Response[str]:
    """Send a six-digit code by SMS (300 s, single use; 60 s cooldown per number)."""
    sent = get_services().codes.send("sms", body.phone, body.code_type, client.ip, captcha_of(body))
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(router, SmsCodeSent(**sent))


@router.post("/api/auth/email/code", **http.answers(EmailCodeSent))
@tracer.capture_method
def email_code(body: EmailCodeBody, client: http.Client) -> Response[str]:
    """Send a six-digit code by email (300 s, single use; 60 s cooldown per address)."""
    sent = get_services().codes.send("email", body.email, body.code_type, client.ip, captcha_of(body))
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(router, EmailCodeSent(**sent))


@router.post("/api/account/phone/send-verification-code", **http.answers(CompatCodeSent))
def compat_send_code(body: SmsCodeBody, client: http.Client) -> Response[str]:
    """Old clients: a ``login`` code."""
    sent = get_services().codes.send("sms", body.phone, "login", client.ip, captcha_of(body))
    return http.ok(router, CompatCodeSent(**sent, message="验证码已发送"))


def _phone_login(body: PhoneLoginBody, client: ClientInfo, mode: str) -> Response[str]:
    """The phone sign-in in one of its modes: ``any`` (register or sign in), ``register``, ``login``."""
    result = get_services().code_flows.phone_login(
        body.phone, body.sms_code, body.app_name, client, body.referer_id, mode
    )
    metrics.add_metric(name="SignUps" if result.created else "Logins", unit=MetricUnit.Count, value=1)
    logger.info("phone sign-in", extra={"user_id": result.user_id, "new_user": result.created})
    return http.ok(router, SignInOrUp.of_result(result, created=result.created), no_store=True)


@router.post("/api/auth/phone/login", **http.answers(SignInOrUp))
@router.post("/api/account/phone/register-or-login-phone", **http.answers(SignInOrUp))
@tracer.capture_method
def phone_login(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Sign in with a phone and a ``login`` code, registering the phone if it is new."""
    return _phone_login(body, client, "any")


@router.post("/api/account/phone/register-phone", **http.answers(SignInOrUp))
def compat_register_phone(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Old clients: register a new phone (409 ``PHONE_TAKEN`` when it exists)."""
    return _phone_login(body, client, "register")


@router.post("/api/account/phone/login-phone", **http.answers(SignInOrUp))
def compat_login_phone(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Old clients: sign in a known phone (400 ``CODE_INVALID`` when it is unknown)."""
    return _phone_login(body, client, "login")


@router.post("/api/auth/phone/change", **http.requires("user"), **http.answers(UserInfo))
@tracer.capture_method
def phone_change(body: PhoneChangeBody, me: http.Me) -> Response[str]:
    """Move the caller to a new phone, proven by a ``change_phone`` code sent to it."""
    record = get_services().code_flows.change_phone(me.user_id, me.app_name, body.new_phone, body.sms_code)
    return http.ok(router, UserInfo.of_record(record, me.app_name))


@router.post("/api/account/phone/change-phone", **http.requires("user"), **http.answers(SignIn))
def compat_change_phone(body: PhoneChangeBody, me: http.Me, client: http.Client) -> Response[str]:
    """Old clients read tokens and user_info back, and can only ask for ``login`` codes."""
    services = get_services()
    services.code_flows.change_phone(
        me.user_id, me.app_name, body.new_phone, body.sms_code, code_types=("change_phone", "login")
    )
    record = services.accounts.get(me.user_id)
    result = services.accounts.open_session(record, me.app_name, client, "phone_change")
    return http.ok(router, SignIn.of_result(result), no_store=True)


@router.post("/api/auth/password/reset", **http.answers(Revoked))
@tracer.capture_method
def password_reset(body: PasswordResetBody) -> Response[str]:
    """Set a new password proven by a ``reset_password`` code; every session of the user ends."""
    channel, target = body.target()
    revoked = get_services().code_flows.reset_password(
        channel, target, body.code, body.new_password, body.confirm_password
    )
    return http.ok(router, Revoked(revoked=revoked))


@router.get("/api/auth/invitees", **http.requires("user"), **http.answers(InviteeList))
@tracer.capture_method
def invitees(me: http.Me) -> Response[str]:
    """The users who signed up with the caller as their inviter."""
    people = [Invitee.of(u) for u in get_services().code_flows.invitees(me.user_id)]
    return http.ok(router, InviteeList(items=people, total=len(people)))
