"""Account function: password sign-up/in, OAuth2 token endpoint, sessions, user info, JWKS.

Thin by design: each route declares its body, caller and requirement (Powertools validates them), calls
one domain service and wraps the result; every error becomes an envelope in
``shared.http.install_error_handlers``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.container import get_services
from shared.domain import ClientInfo
from shared.envelope import JSON_HEADERS, NO_STORE_HEADERS
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

app = http.resolver(logger)


def _register(body: RegisterBody, client: ClientInfo) -> SignedIn:
    command = RegisterCommand(**body.model_dump(include=set(RegisterCommand.__dataclass_fields__), exclude_none=False))
    result = get_services().accounts.register(command, client)
    metrics.add_metric(name="SignUps", unit=MetricUnit.Count, value=1)
    logger.info("user registered", extra={"user_id": result.user_info["user_id"]})
    return result


def _login(body: LoginBody, client: ClientInfo) -> SignedIn:
    try:
        result = get_services().accounts.login(
            body.username, body.password, body.app_name, client, body.captcha_key, body.captcha_code
        )
    except AppError:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("user signed in", extra={"user_id": result.user_info["user_id"]})
    return result


@app.post("/api/auth/register", status_code=201)
@tracer.capture_method
def register(body: RegisterBody, client: http.Client) -> Response[str]:
    """Sign up with a password; the new user gets the app's default role. Answers like a sign-in."""
    return http.ok(app, _register(body, client).as_data(), status=201, no_store=True)


@app.post("/api/auth/login")
@tracer.capture_method
def login(body: LoginBody, client: http.Client) -> Response[str]:
    """Sign in with a username, email or phone and the password: tokens and ``user_info``."""
    return http.ok(app, _login(body, client).as_data(), no_store=True)


@app.post("/api/auth/token", **http.raw_route("json"))
@tracer.capture_method
def oauth_token(client: http.Client) -> Response[str]:
    """RFC 6749 token endpoint (form body ``grant_type`` = ``password`` or ``refresh_token``): raw JSON
    answers, and RFC error bodies, also for an invalid body (so this one route reads its body itself,
    with the same model, ``TokenGrantBody``)."""
    try:
        body = http.parse(app, TokenGrantBody)
        services = get_services()
        if body.grant_type == "password":
            if not body.username or not body.password:
                return _oauth_error("invalid_request", "username and password are required")
            data = services.accounts.login(body.username, body.password, body.app_name, client).tokens.as_data()
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
def refresh(body: RefreshBody) -> Response[str]:
    """Rotate a refresh token (the same token again within the leeway answers the same successor)."""
    pair = get_services().sessions.refresh(body.refresh_token)
    metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
    return http.ok(app, pair.as_data(), no_store=True)


@app.post("/api/auth/logout", **http.requires("user"))
@tracer.capture_method
def logout(body: LogoutBody, me: http.Me) -> Response[str]:
    """End the caller's session, or every session of the user with ``all``."""
    services = get_services()
    if body.all:
        revoked = services.accounts.revoke_all(me.user_id)
    else:
        revoked = services.sessions.revoke(me.user_id, me.session_id)
    logger.info("user signed out", extra={"user_id": me.user_id, "revoked": revoked})
    return http.ok(app, {"revoked": revoked})


@app.post("/api/auth/verify-token")
@tracer.capture_method
def verify_token(body: VerifyTokenBody) -> Response[str]:
    """Check an access token for a service not behind API Gateway: the live session and rights."""
    token = body.token or body.access_token or _bearer_token()
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
def user_info(me: http.Me) -> Response[str]:
    """The caller's ``user_info`` in the token's app."""
    return http.ok(app, get_services().accounts.info(me.user_id, me.app_name))


@app.get("/api/auth/user/menus", **http.requires("user"))
@tracer.capture_method
def user_menus(me: http.Me) -> Response[str]:
    """The menu tree the caller's roles open in the token's app (roles as the authorizer saw them)."""
    return http.ok(app, get_services().menus.for_roles(me.app_name, list(me.roles)))


@app.put("/api/auth/user/info/update", **http.requires("user"))
@tracer.capture_method
def update_user_info(body: ProfileUpdateBody, me: http.Me) -> Response[str]:
    """Change the caller's profile; a new email needs a ``bind`` code sent to it."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    return http.ok(app, get_services().accounts.update_profile(me.user_id, me.app_name, changes))


@app.post("/api/auth/password/change", **http.requires("user"))
@tracer.capture_method
def change_password(body: PasswordChangeBody, me: http.Me) -> Response[str]:
    """Change the password; every other session of the user ends."""
    revoked = get_services().accounts.change_password(
        me.user_id, me.session_id, body.old_password, body.new_password, body.confirm_password
    )
    logger.info("password changed", extra={"user_id": me.user_id, "revoked": revoked})
    return http.ok(app, {"revoked": revoked})


@app.get("/api/auth/sessions", **http.requires("user"))
@tracer.capture_method
def list_sessions(me: http.Me) -> Response[str]:
    """The caller's live sessions, oldest first, the current one marked."""
    return http.ok(app, {"items": get_services().accounts.sessions_of(me.user_id, me.session_id)})


@app.delete("/api/auth/sessions/<session_id>", **http.requires("user"))
@tracer.capture_method
def delete_session(session_id: str, me: http.Me) -> Response[str]:
    """End one of the caller's sessions (404 when it is not theirs)."""
    revoked = get_services().sessions.revoke(me.user_id, session_id)
    if not revoked:
        raise NotFoundError()
    return http.ok(app, {"revoked": revoked})


# -- account-center business systems (API.md section 5) ------------------------------------------------


@app.post("/api/auth/password/login")
@tracer.capture_method
def center_password_login(body: CenterLoginBody, client: http.Client) -> Response[str]:
    """Account-center clients: sign in with ``phoneNumber`` and ``password``; adds ``token``, ``userId``."""
    identifier = body.phoneNumber or body.username
    if not identifier:
        raise ValidationError({"phoneNumber": ["required"]})
    result = get_services().accounts.login(identifier, body.password, body.app_name, client)
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    data = {**result.as_data(), "token": result.tokens.access_token, "userId": result.user_info["user_id"]}
    return http.ok(app, data, no_store=True)


@app.get("/api/auth/user-info", **http.requires("user"))
@tracer.capture_method
def center_user_info(me: http.Me) -> Response[str]:
    """Account-center clients: ``user_info`` plus ``userId``, ``unionId``, ``phoneNumber``, ``profile``."""
    info = get_services().accounts.info(me.user_id, me.app_name)
    extra = {
        "userId": info["user_id"],
        "unionId": info["union_id"],
        "phoneNumber": info["phone"],
        "profile": {"nickname": info["nickname"], "avatar": info["avatar"]},
    }
    return http.ok(app, {**info, **extra})


@app.post("/api/auth/signout", **http.requires("user"))
@tracer.capture_method
def center_signout(body: LogoutBody, me: http.Me) -> Response[str]:
    """Account-center clients: as logout."""
    return logout(body, me)


# -- svc_user_auth_zxw / vue-element-plus-admin clients (API.md section 5) -------------------------------


@app.post("/api/account/normal/register")
def compat_register(body: RegisterBody, client: http.Client) -> Response[str]:
    """As register, answering 200 (these clients expect it); ``role_name`` is ignored."""
    return http.ok(app, _register(body, client).as_data(), no_store=True)


@app.post("/api/account/normal/login")
def compat_login(body: LoginBody, client: http.Client) -> Response[str]:
    """As login."""
    return login(body, client)


@app.post("/api/account/normal/login-form")
def compat_login_form(body: LoginBody, client: http.Client) -> Response[str]:
    """The OAuth2-style form login of these clients, answered with the envelope."""
    return login(body, client)


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
def compat_current_user(me: http.Me) -> Response[str]:
    """As user info."""
    return user_info(me)


@app.post("/api/token/check-token-from-header", **http.requires("user"))
def compat_check_header(me: http.Me) -> Response[str]:
    """As user info."""
    return user_info(me)


@app.post("/api/token/refresh-token")
def compat_refresh(body: RefreshBody) -> Response[str]:
    """As refresh."""
    return refresh(body)


@app.post("/api/token/check-token-from-body")
def compat_check_body(body: VerifyTokenBody) -> Response[str]:
    """verify-token with ``access_token`` in the body, answering the user's ``user_info``."""
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


@app.post("/api/v1/auth/register", status_code=201)
def simple_register(body: SimpleRegisterBody, client: http.Client) -> Response[str]:
    """Username, email, phone and a password of 6+ characters are all required; no tokens answered."""
    result = _register(RegisterBody.model_validate(body.model_dump()), client)
    return http.ok(app, _simple_user(result.user_info), status=201)


@app.post("/api/v1/auth/login")
def simple_login(body: LoginBody, client: http.Client) -> Response[str]:
    """Simple REST clients: ``{token, user}``."""
    result = _login(body, client)
    user = {**_simple_user(result.user_info), "roles": [r["role_code"] for r in result.user_info["roles"]]}
    data = {"token": result.tokens.access_token, "refresh_token": result.tokens.refresh_token, "user": user}
    return http.ok(app, data, no_store=True)


@app.get("/api/auth/captcha")
@tracer.capture_method
def captcha() -> Response[str]:
    return http.ok(app, get_services().captchas.new(), no_store=True)


@app.get("/.well-known/jwks.json", **http.raw_route("json"))
def jwks() -> Response[str]:
    document = get_services().tokens.keys.ring().jwks()
    response = http.raw(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context, bad_body=_oauth_bad_body)


def _oauth_bad_body(event: dict[str, Any], error: AppError) -> dict[str, Any] | None:
    """The token endpoint answers a malformed body as RFC 6749 does: 400 ``invalid_request``."""
    if str(event.get("resource") or "").rstrip("/") != "/api/auth/token":
        return None
    body = {"error": "invalid_request", "error_description": error.message("en")}
    return {"statusCode": 400, "headers": {**JSON_HEADERS, **NO_STORE_HEADERS}, "body": json.dumps(body)}
