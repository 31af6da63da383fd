"""Account function: password sign-up/in, OAuth2 token endpoint, sessions, user info, JWKS.

Thin by design: each route parses its body, calls one domain service and wraps the result; every error
becomes an envelope in ``shared.http.install_error_handlers``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.config import get_settings
from shared.container import get_services
from shared.errors import AppError, InvalidCredentialsError, NotFoundError, ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import (
    CenterLoginBody,
    LoginBody,
    LogoutBody,
    PasswordChangeBody,
    ProfileUpdateBody,
    RefreshBody,
    RegisterBody,
    SimpleRegisterBody,
    TokenGrantBody,
    VerifyTokenBody,
)
from shared.services.accounts import RegisterCommand, SignedIn

app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)


def _register(body: RegisterBody) -> SignedIn:
    command = RegisterCommand(**body.model_dump(include=set(RegisterCommand.__dataclass_fields__), exclude_none=False))
    result = get_services().accounts.register(command, http.client_info(app))
    metrics.add_metric(name="SignUps", unit=MetricUnit.Count, value=1)
    logger.info("user registered", extra={"user_id": result.user_info["user_id"]})
    return result


def _login(body: LoginBody) -> SignedIn:
    try:
        result = get_services().accounts.login(
            body.username, body.password, body.app_name, http.client_info(app), body.captcha_key, body.captcha_code
        )
    except AppError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("user signed in", extra={"user_id": result.user_info["user_id"]})
    return result


@app.post("/api/auth/register")
@tracer.capture_method
def register() -> Response[str]:
    return http.ok(app, _register(http.parse(app, RegisterBody)).as_data(), status=201, no_store=True)


@app.post("/api/auth/login")
@tracer.capture_method
def login() -> Response[str]:
    return http.ok(app, _login(http.parse(app, LoginBody)).as_data(), no_store=True)


@app.post("/api/auth/token")
@tracer.capture_method
def oauth_token() -> Response[str]:
    """RFC 6749 token endpoint: raw JSON answers, RFC error bodies."""
    try:
        body = http.parse(app, TokenGrantBody)
        services = get_services()
        if body.grant_type == "password":
            if not body.username or not body.password:
                return _oauth_error("invalid_request", "username and password are required")
            data = services.accounts.login(
                body.username, body.password, body.app_name, http.client_info(app)
            ).tokens.as_data()
            metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
        elif body.grant_type == "refresh_token":
            if not body.refresh_token:
                return _oauth_error("invalid_request", "refresh_token is required")
            data = services.sessions.refresh(body.refresh_token).as_data()
            metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
        else:
            return _oauth_error("unsupported_grant_type", "grant_type must be password or refresh_token")
    except InvalidCredentialsError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        return _oauth_error("invalid_grant", "invalid username or password")
    except ValidationError as exc:
        return _oauth_error("invalid_request", "; ".join(sorted(exc.errors or {})) or "invalid request")
    except AppError as exc:
        if exc.status in (401, 403):
            return _oauth_error("invalid_grant", exc.message("en"))
        if exc.status == 400:
            return _oauth_error("invalid_request", exc.message("en"))
        raise
    return http.raw(data, no_store=True)


def _oauth_error(error: str, description: str) -> Response[str]:
    return http.raw({"error": error, "error_description": description}, status=400, no_store=True)


@app.post("/api/auth/token/refresh")
@tracer.capture_method
def refresh() -> Response[str]:
    body = http.parse(app, RefreshBody)
    pair = get_services().sessions.refresh(body.refresh_token)
    metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
    return http.ok(app, pair.as_data(), no_store=True)


@app.post("/api/auth/logout", **http.requires("user"))
@tracer.capture_method
def logout() -> Response[str]:
    me = http.caller(app)
    body = http.parse(app, LogoutBody)
    services = get_services()
    if body.all:
        revoked = services.accounts.revoke_all(me["user_id"])
    else:
        revoked = services.sessions.revoke(me["user_id"], me["session_id"])
    logger.info("user signed out", extra={"user_id": me["user_id"], "revoked": revoked})
    return http.ok(app, {"revoked": revoked})


@app.post("/api/auth/verify-token")
@tracer.capture_method
def verify_token() -> Response[str]:
    body = http.parse(app, VerifyTokenBody)
    token = body.token or body.access_token
    if not token:
        token = _bearer_token()
    if not token:
        raise ValidationError({"token": ["a token is required (token, access_token or a Bearer header)"]})
    claims, session = get_services().sessions.verify(token)
    return http.ok(
        app,
        {
            "valid": True,
            "user_id": claims.user_id,
            "userId": claims.user_id,
            "session_id": claims.session_id,
            "app_name": claims.app_name,
            "roles": session.roles,
            "permissions": session.permissions,
            "exp": claims.exp,
        },
    )


def _bearer_token() -> str | None:
    value = http.header(app.current_event.headers, "authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@app.get("/api/auth/user/info", **http.requires("user"))
@tracer.capture_method
def user_info() -> Response[str]:
    me = http.caller(app)
    return http.ok(app, get_services().accounts.info(me["user_id"], me["app_name"]))


@app.get("/api/auth/user/menus", **http.requires("user"))
@tracer.capture_method
def user_menus() -> Response[str]:
    """The menu tree the caller's roles open in the token's app (roles from the live session)."""
    me = http.caller(app)
    roles = [r for r in me.get("roles", "").split(",") if r]
    return http.ok(app, get_services().menus.for_roles(me["app_name"], roles))


@app.put("/api/auth/user/info/update", **http.requires("user"))
@tracer.capture_method
def update_user_info() -> Response[str]:
    me = http.caller(app)
    body = http.parse(app, ProfileUpdateBody)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    info = get_services().accounts.update_profile(me["user_id"], me["app_name"], changes)
    return http.ok(app, info)


@app.post("/api/auth/password/change", **http.requires("user"))
@tracer.capture_method
def change_password() -> Response[str]:
    me = http.caller(app)
    body = http.parse(app, PasswordChangeBody)
    revoked = get_services().accounts.change_password(
        me["user_id"], me["session_id"], body.old_password, body.new_password, body.confirm_password
    )
    logger.info("password changed", extra={"user_id": me["user_id"], "revoked": revoked})
    return http.ok(app, {"revoked": revoked})


@app.get("/api/auth/sessions", **http.requires("user"))
@tracer.capture_method
def list_sessions() -> Response[str]:
    me = http.caller(app)
    return http.ok(app, {"items": get_services().accounts.sessions_of(me["user_id"], me["session_id"])})


@app.delete("/api/auth/sessions/<session_id>", **http.requires("user"))
@tracer.capture_method
def delete_session(session_id: str) -> Response[str]:
    me = http.caller(app)
    revoked = get_services().sessions.revoke(me["user_id"], session_id)
    if not revoked:
        raise NotFoundError()
    return http.ok(app, {"revoked": revoked})


# -- account-center business systems (API.md section 5) ------------------------------------------------


@app.post("/api/auth/password/login")
@tracer.capture_method
def center_password_login() -> Response[str]:
    body = http.parse(app, CenterLoginBody)
    identifier = body.phoneNumber or body.username
    if not identifier:
        raise ValidationError({"phoneNumber": ["required"]})
    result = get_services().accounts.login(identifier, body.password, body.app_name, http.client_info(app))
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    data = {**result.as_data(), "token": result.tokens.access_token, "userId": result.user_info["user_id"]}
    return http.ok(app, data, no_store=True)


@app.get("/api/auth/user-info", **http.requires("user"))
@tracer.capture_method
def center_user_info() -> Response[str]:
    me = http.caller(app)
    info = get_services().accounts.info(me["user_id"], me["app_name"])
    extra = {
        "userId": info["user_id"],
        "unionId": info["union_id"],
        "phoneNumber": info["phone"],
        "profile": {"nickname": info["nickname"], "avatar": info["avatar"]},
    }
    return http.ok(app, {**info, **extra})


@app.post("/api/auth/signout", **http.requires("user"))
@tracer.capture_method
def center_signout() -> Response[str]:
    return logout()


# -- svc_user_auth_zxw / vue-element-plus-admin clients (API.md section 5) -------------------------------


@app.post("/api/account/normal/register")
def compat_register() -> Response[str]:
    """As register, answering 200 (these clients expect it); ``role_name`` is ignored."""
    return http.ok(app, _register(http.parse(app, RegisterBody)).as_data(), no_store=True)


@app.post("/api/account/normal/login")
def compat_login() -> Response[str]:
    return login()


@app.post("/api/account/normal/login-form")
def compat_login_form() -> Response[str]:
    """The OAuth2-style form login of these clients, answered with the envelope."""
    return login()


@app.get("/api/account/logout")
def compat_logout() -> Response[str]:
    """Public: revokes the bearer's session when a valid token comes with the request."""
    token = _bearer_token()
    revoked = 0
    if token:
        sessions = get_services().sessions
        try:
            claims, _ = sessions.verify(token)
        except AppError:
            claims = None
        if claims is not None:
            revoked = sessions.revoke(claims.user_id, claims.session_id)
    return http.ok(app, {"revoked": revoked, "message": "退出成功"})


@app.post("/api/token/get-current-user", **http.requires("user"))
def compat_current_user() -> Response[str]:
    return user_info()


@app.post("/api/token/check-token-from-header", **http.requires("user"))
def compat_check_header() -> Response[str]:
    return user_info()


@app.post("/api/token/refresh-token")
def compat_refresh() -> Response[str]:
    return refresh()


@app.post("/api/token/check-token-from-body")
def compat_check_body() -> Response[str]:
    """verify-token with ``access_token`` in the body, answering the user's ``user_info``."""
    body = http.parse(app, VerifyTokenBody)
    token = body.access_token or body.token
    if not token:
        raise ValidationError({"access_token": ["required"]})
    services = get_services()
    claims, _ = services.sessions.verify(token)
    return http.ok(app, services.accounts.info(claims.user_id, claims.app_name))


# -- simple REST clients (API.md section 5) ---------------------------------------------------------------


def _simple_user(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("user_id", "username", "email", "phone", "status", "created_at")
    return {"id": info["user_id"], **{k: info.get(k) for k in keys}}


@app.post("/api/v1/auth/register")
def simple_register() -> Response[str]:
    """Username, email, phone and a password of 6+ characters are all required; no tokens answered."""
    body = http.parse(app, SimpleRegisterBody)
    result = _register(RegisterBody.model_validate(body.model_dump()))
    return http.ok(app, _simple_user(result.user_info), status=201)


@app.post("/api/v1/auth/login")
def simple_login() -> Response[str]:
    result = _login(http.parse(app, LoginBody))
    user = {**_simple_user(result.user_info), "roles": [r["role_code"] for r in result.user_info["roles"]]}
    data = {"token": result.tokens.access_token, "refresh_token": result.tokens.refresh_token, "user": user}
    return http.ok(app, data, no_store=True)


@app.get("/api/auth/captcha")
@tracer.capture_method
def captcha() -> Response[str]:
    return http.ok(app, get_services().captchas.new(), no_store=True)


@app.get("/.well-known/jwks.json")
def jwks() -> Response[str]:
    document = get_services().tokens.keys.ring().jwks()
    response = http.raw(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.with_cors(event, app.resolve(event, context), get_settings().cors_allowed_origins)
