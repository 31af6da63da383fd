"""Codes function: SMS and email codes, phone sign-in and change, password reset, invitees, and the
phone routes of the old svc_user_auth_zxw clients (API.md sections 4, 5 and 6)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.config import get_settings
from shared.container import get_services
from shared.errors import ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import EmailCodeBody, PasswordResetBody, PhoneChangeBody, PhoneLoginBody, SmsCodeBody

app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)


@app.post("/api/auth/sms/code")
@tracer.capture_method
def sms_code() -> Response[str]:
    body = http.parse(app, SmsCodeBody)
    sent = get_services().codes.send("sms", body.phone, body.code_type, http.client_info(app).ip)
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(app, sent)


@app.post("/api/auth/email/code")
@tracer.capture_method
def email_code() -> Response[str]:
    body = http.parse(app, EmailCodeBody)
    sent = get_services().codes.send("email", body.email, body.code_type, http.client_info(app).ip)
    metrics.add_metric(name="CodesSent", unit=MetricUnit.Count, value=1)
    return http.ok(app, sent)


def _phone_login(mode: str) -> Response[str]:
    body = http.parse(app, PhoneLoginBody)
    result = get_services().code_flows.phone_login(
        body.phone, body.sms_code, body.app_name, http.client_info(app), body.referer_id, mode
    )
    metrics.add_metric(name="SignUps" if result.created else "Logins", unit=MetricUnit.Count, value=1)
    logger.info("phone sign-in", extra={"user_id": result.user_info["user_id"], "new_user": result.created})
    return http.ok(app, {**result.as_data(), "created": result.created}, no_store=True)


@app.post("/api/auth/phone/login")
@tracer.capture_method
def phone_login() -> Response[str]:
    return _phone_login("any")


@app.post("/api/auth/phone/change", **http.requires("user"))
@tracer.capture_method
def phone_change() -> Response[str]:
    me = http.caller(app)
    body = http.parse(app, PhoneChangeBody)
    info = get_services().code_flows.change_phone(me["user_id"], me["app_name"], body.new_phone, body.sms_code)
    return http.ok(app, info)


@app.post("/api/auth/password/reset")
@tracer.capture_method
def password_reset() -> Response[str]:
    body = http.parse(app, PasswordResetBody)
    if bool(body.email) == bool(body.phone):
        raise ValidationError({"email": ["give either email or phone"], "phone": ["give either email or phone"]})
    channel, target = ("email", body.email) if body.email else ("sms", body.phone)
    revoked = get_services().code_flows.reset_password(
        channel, str(target), body.code, body.new_password, body.confirm_password
    )
    return http.ok(app, {"revoked": revoked})


@app.get("/api/auth/invitees", **http.requires("user"))
@tracer.capture_method
def invitees() -> Response[str]:
    me = http.caller(app)
    return http.ok(app, get_services().code_flows.invitees(me["user_id"]))


# -- svc_user_auth_zxw clients (API.md section 5) --------------------------------------------------------


@app.post("/api/account/phone/send-verification-code")
def compat_send_code() -> Response[str]:
    body = http.parse(app, SmsCodeBody)
    sent = get_services().codes.send("sms", body.phone, "login", http.client_info(app).ip)
    return http.ok(app, {**sent, "message": "验证码已发送"})


@app.post("/api/account/phone/register-phone")
def compat_register_phone() -> Response[str]:
    return _phone_login("register")


@app.post("/api/account/phone/login-phone")
def compat_login_phone() -> Response[str]:
    return _phone_login("login")


@app.post("/api/account/phone/register-or-login-phone")
def compat_register_or_login_phone() -> Response[str]:
    return _phone_login("any")


@app.post("/api/account/phone/change-phone", **http.requires("user"))
def compat_change_phone() -> Response[str]:
    """Old clients read tokens and user_info back, and can only ask for ``login`` codes."""
    me = http.caller(app)
    body = http.parse(app, PhoneChangeBody)
    services = get_services()
    services.code_flows.change_phone(
        me["user_id"], me["app_name"], body.new_phone, body.sms_code, code_types=("change_phone", "login")
    )
    record = services.accounts.get(me["user_id"])
    signed_in = services.accounts.open_session(record, me["app_name"], http.client_info(app), "phone_change")
    return http.ok(app, signed_in.as_data(), no_store=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.with_cors(event, app.resolve(event, context), get_settings().cors_allowed_origins)
