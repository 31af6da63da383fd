"""Password sign-up and sign-in, token refresh, sign-out and token checks (API.md sections 2 and 5)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.metrics import MetricUnit

from shared import http
from shared.container import get_services
from shared.domain import ClientInfo
from shared.errors import AppError, ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import (
    CenterLoginBody,
    LoginBody,
    LogoutBody,
    RefreshBody,
    RegisterBody,
    SimpleRegisterBody,
    VerifyTokenBody,
)
from shared.services.accounts import RegisterCommand, SignedIn
from shared.views import (
    CenterSignIn,
    Message,
    Revoked,
    SignIn,
    SimpleMember,
    SimpleSignIn,
    SimpleUser,
    TokenCheck,
    Tokens,
)

router = http.router()


def _register(body: RegisterBody, client: ClientInfo) -> SignedIn:
    command = RegisterCommand(**body.model_dump(include=set(RegisterCommand.__dataclass_fields__), exclude_none=False))
    result = get_services().accounts.register(command, client)
    metrics.add_metric(name="SignUps", unit=MetricUnit.Count, value=1)
    logger.info("user registered", extra={"user_id": result.user_id})
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
    logger.info("user signed in", extra={"user_id": result.user_id})
    return result


@router.post("/api/auth/register", status_code=201, **http.answers(SignIn, 201))
@tracer.capture_method
def register(body: RegisterBody, client: http.Client) -> Response[str]:
    """Sign up with a password; the new user gets the app's default role. Answers like a sign-in."""
    return http.ok(router, SignIn.of_result(_register(body, client)), status=201, no_store=True)


@router.post("/api/account/normal/register", **http.answers(SignIn))
def compat_register(body: RegisterBody, client: http.Client) -> Response[str]:
    """As register, answering 200 (these clients expect it); ``role_name`` is ignored."""
    return http.ok(router, SignIn.of_result(_register(body, client)), no_store=True)


@router.post("/api/auth/login", **http.answers(SignIn))
@router.post("/api/account/normal/login", **http.answers(SignIn))
@router.post("/api/account/normal/login-form", **http.answers(SignIn))
@tracer.capture_method
def login(body: LoginBody, client: http.Client) -> Response[str]:
    """Sign in with a username, email or phone and the password: tokens and ``user_info``."""
    return http.ok(router, SignIn.of_result(_login(body, client)), no_store=True)


@router.post("/api/auth/token/refresh", **http.answers(Tokens))
@router.post("/api/token/refresh-token", **http.answers(Tokens))
@tracer.capture_method
def refresh(body: RefreshBody) -> Response[str]:
    """Rotate a refresh token (the same token again within the leeway answers the same successor)."""
    pair = get_services().sessions.refresh(body.refresh_token)
    metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
    return http.ok(router, Tokens.of(pair), no_store=True)


@router.post("/api/auth/logout", **http.requires("user"), **http.answers(Revoked))
@router.post("/api/auth/signout", **http.requires("user"), **http.answers(Revoked))
@tracer.capture_method
def logout(body: LogoutBody, me: http.Me) -> Response[str]:
    """End the caller's session, or every session of the user with ``all``."""
    services = get_services()
    if body.all:
        revoked = services.accounts.revoke_all(me.user_id)
    else:
        revoked = services.sessions.revoke(me.user_id, me.session_id)
    logger.info("user signed out", extra={"user_id": me.user_id, "revoked": revoked})
    return http.ok(router, Revoked(revoked=revoked))


@router.get("/api/account/logout", **http.answers(Message))
def compat_logout() -> Response[str]:
    """Public: revokes the bearer's session when a valid token comes with the request."""
    token = bearer_token(router)
    revoked = 0
    if token:
        sessions = get_services().sessions
        try:
            claims, _ = sessions.verify(token)
        except AppError:
            claims = None
        if claims is not None:
            revoked = sessions.revoke(claims.user_id, claims.session_id)
    return http.ok(router, Message(revoked=revoked, message="退出成功"))


@router.post("/api/auth/verify-token", **http.answers(TokenCheck))
@tracer.capture_method
def verify_token(body: VerifyTokenBody) -> Response[str]:
    """Check an access token for a service not behind API Gateway: the live session and rights."""
    token = body.token or body.access_token or bearer_token(router)
    if not token:
        raise ValidationError({"token": ["a token is required (token, access_token or a Bearer header)"]})
    claims, session = get_services().sessions.verify(token)
    check = TokenCheck(
        user_id=claims.user_id,
        userId=claims.user_id,
        session_id=claims.session_id,
        app_name=claims.app_name,
        roles=session.roles,
        permissions=session.permissions,
        exp=claims.exp,
    )
    return http.ok(router, check)


def bearer_token(source: BaseRouter) -> str | None:
    """The bearer token of the request, if it carries one."""
    value = http.header(source.current_event.headers, "authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# -- account-center business systems (API.md section 5) ------------------------------------------------
@router.post("/api/auth/password/login", **http.answers(CenterSignIn))
@tracer.capture_method
def center_password_login(body: CenterLoginBody, client: http.Client) -> Response[str]:
    """Account-center clients: sign in with ``phoneNumber`` and ``password``; adds ``token``, ``userId``."""
    result = get_services().accounts.login(body.identifier(), body.password, body.app_name, client)
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    data = CenterSignIn.of_result(result, token=result.tokens.access_token, userId=result.user_id)
    return http.ok(router, data, no_store=True)


# -- simple REST clients (API.md section 5) ---------------------------------------------------------------
@router.post("/api/v1/auth/register", status_code=201, **http.answers(SimpleUser, 201))
def simple_register(body: SimpleRegisterBody, client: http.Client) -> Response[str]:
    """Username, email, phone and a password of 6+ characters are all required; no tokens answered."""
    result = _register(RegisterBody.model_validate(body.model_dump()), client)
    return http.ok(router, SimpleUser.of(result.record.user), status=201)


@router.post("/api/v1/auth/login", **http.answers(SimpleSignIn))
def simple_login(body: LoginBody, client: http.Client) -> Response[str]:
    """Simple REST clients: ``{token, refresh_token, user}``."""
    result = _login(body, client)
    user = SimpleMember.of_record(result.record, result.app_name)
    data = SimpleSignIn(token=result.tokens.access_token, refresh_token=result.tokens.refresh_token, user=user)
    return http.ok(router, data, no_store=True)
