"""WeChat: mini-program, web QR and official-account sign-in, binding, and the redirect flow that
business systems use (API.md sections 4 (group ``wechat``) and 5)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from shared import http
from shared.container import get_services
from shared.errors import ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import AppName, CompatWechatQrBody, Url, WechatBindBody, WechatCodeBody, WechatQrBody
from shared.services.accounts import SignedIn
from shared.services.center_sessions import COOKIE
from shared.views import QrCode, SignInOrUp, UserInfo

router = http.router()


def _signed_in(result: SignedIn) -> Response[str]:
    metrics.add_metric(name="SignUps" if result.created else "Logins", unit=MetricUnit.Count, value=1)
    logger.info("wechat sign-in", extra={"user_id": result.user_id, "new_user": result.created})
    return http.ok(router, SignInOrUp.of_result(result, created=result.created), no_store=True)


@router.post("/api/auth/wechat/miniapp/login", **http.answers(SignInOrUp))
@tracer.capture_method
def miniapp_login(body: WechatCodeBody, client: http.Client) -> Response[str]:
    """Sign in with a mini-program ``wx.login`` code (the user is created, or joined by UnionID)."""
    return _signed_in(get_services().wechat.sign_in(body.app_name, "miniapp", body.code, client))


@router.post("/api/auth/wechat/web/login", **http.answers(SignInOrUp))
@router.post("/api/account/wechat/qr-login/login", **http.answers(SignInOrUp))
@tracer.capture_method
def web_login(body: WechatCodeBody, client: http.Client) -> Response[str]:
    """Sign in with the code of the web QR page (its ``state`` is single use, 10 minutes)."""
    wechat = get_services().wechat
    app_name = body.app_name
    if body.state:  # the state of a QR code this service made: single use, 10 minutes
        app_name = wechat.take_state(body.state).get("app_name") or app_name
    return _signed_in(wechat.sign_in(app_name, "web", body.code, client))


@router.post("/api/auth/wechat/qrcode", **http.answers(QrCode))
@tracer.capture_method
def qrcode(body: WechatQrBody) -> Response[str]:
    """The open-platform QR page URL and its single-use ``state``."""
    return http.ok(router, QrCode(**get_services().wechat.qr_code(body.app_name, body.redirect_uri)))


@router.post("/api/account/wechat/qr-login/get-qrcode", **http.answers(QrCode))
def compat_qrcode(body: CompatWechatQrBody) -> Response[str]:
    """Old clients: the QR page URL for ``WECHAT_REDIRECT_URI``."""
    return http.ok(router, QrCode(**get_services().wechat.qr_code(body.app_name, body.redirect())))


@router.post("/api/auth/wechat/bind", **http.requires("user"), **http.answers(UserInfo))
@tracer.capture_method
def bind(body: WechatBindBody, me: http.Me) -> Response[str]:
    """Link the WeChat identity behind ``code`` to the caller (409 when it belongs to someone else)."""
    record = get_services().wechat.bind(me.user_id, me.app_name, body.type, body.code)
    return http.ok(router, UserInfo.of_record(record, me.app_name))


def _callback_endpoint() -> str:
    """This API's callback URL as the browser reaches it (custom domain or execute-api with stage)."""
    return f"{http.public_url(router.current_event.raw_event)}/api/auth/wechat/callback"


def _redirect(location: str) -> Response[str]:
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"}, body="")


@router.get("/api/auth/wechat/login", **http.raw_route("redirect"))
@tracer.capture_method
def login_redirect(
    client: http.Client,
    callback_camel: Annotated[Url | None, Query(alias="callbackUrl")] = None,
    callback_url: Annotated[Url | None, Query()] = None,
    app_name: Annotated[AppName | None, Query()] = None,
) -> Response[str]:
    """The redirect sign-in: 302 to WeChat (in WeChat's browser the official-account OAuth, elsewhere
    the QR page); ``callbackUrl`` must match the app's allowed origins."""
    target = callback_camel or callback_url
    if not target:
        raise ValidationError({"callbackUrl": ["required"]})
    location = get_services().wechat.login_redirect(app_name, target, client.user_agent, _callback_endpoint())
    return _redirect(location)


@router.get("/api/auth/wechat/callback", **http.raw_route("redirect"))
@tracer.capture_method
def callback(
    client: http.Client,
    code: Annotated[str, Query(min_length=1, max_length=256)],
    state: Annotated[str, Query(max_length=64)] = "",
) -> Response[str]:
    """WeChat's redirect back: 302 to the ``callbackUrl`` with ``userId``, ``token`` and ``refreshToken``
    (the old clients' contract). The browser is also signed in at the sign-in center, with this app
    session noted on its center session: a later code-flow client gets single sign-on, and signing out at
    the center ends this session too (new clients use the code flow: docs/integration.md)."""
    services = get_services()
    location, signed_in = services.wechat.callback(code, state, client)
    if signed_in is None:  # the second factor is due: the client finishes the sign-in (mfa_token)
        return _redirect(location)
    cookie_value, session = services.center_sessions.open(signed_in.user_id, signed_in.record.rev, ["wechat"])
    services.center_sessions.signed_in_to(session.cookie_hash, signed_in.app_name, signed_in.tokens.session.session_id)
    response = _redirect(location)
    lifetime = int(session.expires_at - session.auth_time)
    response.cookies.append(
        Cookie(
            COOKIE, cookie_value, path="/", secure=True, http_only=True, max_age=lifetime, same_site=SameSite.LAX_MODE
        )
    )
    return response
