"""Codes function: SMS and email codes, phone sign-in and change, password reset, invitees, and the
phone routes of the old svc_user_auth_zxw clients (API.md sections 4, 5 and 6).

Each route declares its body (a model of ``shared.schemas``), its caller (``http.Me``) and its
requirement; Powertools validates them before the handler runs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.container import get_services
from shared.errors import ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import EmailCodeBody, PasswordResetBody, PhoneChangeBody, PhoneLoginBody, SmsCodeBody

app = http.resolver(logger)


@app.post("/api/auth/sms/code")
@tracer.capture_method
def sms_code(body: SmsCodeBody, client: http.Client) -> Response[str]:
    """Send a six-digit code by SMS (300 s, single use; 60 s cooldown per number)."""
    sent = get_services().codes.send("sms", body.phone, body.code_type, client.ip)
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(app, sent)


@app.post("/api/auth/email/code")
@tracer.capture_method
def email_code(body: EmailCodeBody, client: http.Client) -> Response[str]:
    """Send a six-digit code by email (300 s, single use; 60 s cooldown per address)."""
    sent = get_services().codes.send("email", body.email, body.code_type, client.ip)
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(app, sent)


def _phone_login(body: PhoneLoginBody, client: http.Client, mode: str) -> Response[str]:
    result = get_services().code_flows.phone_login(
        body.phone, body.sms_code, body.app_name, client, body.referer_id, mode
    )
    metrics.add_metric(name="SignUps" if result.created else "Logins", unit=MetricUnit.Count, value=1)
    logger.info("phone sign-in", extra={"user_id": result.user_info["user_id"], "new_user": result.created})
    return http.ok(app, {**result.as_data(), "created": result.created}, no_store=True)


@app.post("/api/auth/phone/login")
@tracer.capture_method
def phone_login(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Sign in with a phone and a ``login`` code, registering the phone if it is new."""
    return _phone_login(body, client, "any")


@app.post("/api/auth/phone/change", **http.requires("user"))
@tracer.capture_method
def phone_change(body: PhoneChangeBody, me: http.Me) -> Response[str]:
    """Move the caller to a new phone, proven by a ``change_phone`` code sent to it."""
    info = get_services().code_flows.change_phone(me.user_id, me.app_name, body.new_phone, body.sms_code)
    return http.ok(app, info)


@app.post("/api/auth/password/reset")
@tracer.capture_method
def password_reset(body: PasswordResetBody) -> Response[str]:
    """Set a new password proven by a ``reset_password`` code; every session of the user ends."""
    if bool(body.email) == bool(body.phone):
        raise ValidationError({"email": ["give either email or phone"], "phone": ["give either email or phone"]})
    channel, target = ("email", body.email) if body.email else ("sms", body.phone)
    revoked = get_services().code_flows.reset_password(
        channel, str(target), body.code, body.new_password, body.confirm_password
    )
    return http.ok(app, {"revoked": revoked})


@app.get("/api/auth/invitees", **http.requires("user"))
@tracer.capture_method
def invitees(me: http.Me) -> Response[str]:
    """The users who signed up with the caller as their inviter."""
    return http.ok(app, get_services().code_flows.invitees(me.user_id))


# -- svc_user_auth_zxw clients (API.md section 5) --------------------------------------------------------


@app.post("/api/account/phone/send-verification-code")
def compat_send_code(body: SmsCodeBody, client: http.Client) -> Response[str]:
    """Old clients: a ``login`` code."""
    sent = get_services().codes.send("sms", body.phone, "login", client.ip)
    return http.ok(app, {**sent, "message": "验证码已发送"})


@app.post("/api/account/phone/register-phone")
def compat_register_phone(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Old clients: register a new phone (409 ``PHONE_TAKEN`` when it exists)."""
    return _phone_login(body, client, "register")


@app.post("/api/account/phone/login-phone")
def compat_login_phone(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Old clients: sign in a known phone (400 ``CODE_INVALID`` when it is unknown)."""
    return _phone_login(body, client, "login")


@app.post("/api/account/phone/register-or-login-phone")
def compat_register_or_login_phone(body: PhoneLoginBody, client: http.Client) -> Response[str]:
    """Old clients: the phone sign-in."""
    return _phone_login(body, client, "any")


@app.post("/api/account/phone/change-phone", **http.requires("user"))
def compat_change_phone(body: PhoneChangeBody, me: http.Me, client: http.Client) -> Response[str]:
    """Old clients read tokens and user_info back, and can only ask for ``login`` codes."""
    services = get_services()
    services.code_flows.change_phone(
        me.user_id, me.app_name, body.new_phone, body.sms_code, code_types=("change_phone", "login")
    )
    record = services.accounts.get(me.user_id)
    signed_in = services.accounts.open_session(record, me.app_name, client, "phone_change")
    return http.ok(app, signed_in.as_data(), no_store=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
