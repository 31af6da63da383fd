"""The sign-in center's routes (issue 11): OpenID Connect discovery, the authorization endpoint with its
hosted sign-in page, token, userinfo, revocation and logout. Served by the center function only.

Protocol answers are Authlib's (``shared.center.protocol``); pages are ``shared.center.pages``. No token
is ever put in a URL: the browser carries only the code, ``state`` and ``iss`` back to the client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import segno
from authlib.oauth2.rfc6749.errors import OAuth2Error
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from shared import http
from shared.center import backchannel, guard, pages, second_step
from shared.center.browsers import passkeys_usable
from shared.center.call import Call, answer_of, redirect_to
from shared.center.guard import host_cookie, issuer_of
from shared.center.protocol import Answer, EventRequest, Provider
from shared.config import get_settings
from shared.container import get_services
from shared.domain import AppConfig
from shared.errors import (
    AppError,
    CaptchaInvalidError,
    CaptchaRequiredError,
    InvalidCredentialsError,
    MfaRequired,
    MfaTokenInvalidError,
    NotFoundError,
    RateLimitedError,
)
from shared.observability import logger, tracer
from shared.services.accounts import RegisterCommand
from shared.services.center_sessions import COOKIE
from shared.services.mfa_gate import TICKET_SECONDS
from shared.services.oidc import discovery, standard_claims
from shared.services.wechat import in_wechat

router = http.router()
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


# -- request helpers ---------------------------------------------------------------------------------
def _event() -> dict[str, Any]:
    return dict(router.current_event.raw_event)


def _oauth_error(error: OAuth2Error) -> Response[str]:
    status, body, headers = error()
    return answer_of(Answer(status, dict(body), list(headers)))


# -- discovery ---------------------------------------------------------------------------------------
@router.get("/.well-known/openid-configuration", **http.raw_route("json"))
def openid_configuration() -> Response[str]:
    """OpenID Connect Discovery: the issuer and every endpoint of the center."""
    issuer = issuer_of(_event())
    algorithms = [key["alg"] for key in get_services().tokens.keys.ring().jwks()["keys"]]
    response = http.raw(discovery(issuer, algorithms))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@router.get("/center/static/<name>", **http.raw_route("page"))
def static_file(name: str) -> Response[str]:
    """The pages' own stylesheet and script (no third-party CDN)."""
    path = pages.HERE / "static" / name
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or "/" in name or not path.is_file():
        raise NotFoundError()
    headers = {"Content-Type": kind, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(200, headers=headers, body=path.read_text(encoding="utf-8"))


# -- authorization endpoint and sign-in page ---------------------------------------------------------
@router.get("/oauth2/authorize", **http.raw_route("page"))
@tracer.capture_method
def authorize() -> Response[str]:
    """The authorization endpoint: a browser with a center session goes straight back to the client
    with a code; otherwise the sign-in page. A bad client or redirect URI is a page, never a redirect."""
    call = Call(get_services(), _event())
    return _authorize(call, sign_in=False)


@router.post("/oauth2/authorize", **http.raw_route("page"))
@tracer.capture_method
def authorize_sign_in() -> Response[str]:
    """The sign-in page's form (the authorization request stays in the query): CSRF checked, the
    password checked with the API's lockout and limits, then a center session and the code."""
    call = Call(get_services(), _event())
    return _authorize(call, sign_in=call.form.get("method") in FORM_METHODS)


def _authorize(call: Call, sign_in: bool) -> Response[str]:
    oauth_params = {k: v for k, v in call.form.items() if k not in SIGN_IN_FIELDS}
    try:
        request = call.request(oauth_params if not sign_in else {})
    except OAuth2Error as error:
        return call.message(pages.text("error_title", call.lang), str(error.description), 400)
    data = request.payload.data
    max_age = data.get("max_age")
    session = None
    if not sign_in:
        session = call.services.center.signed_in(
            call.cookies.get(COOKIE), data.get("prompt"), int(max_age) if max_age and max_age.isdigit() else None
        )
        wanted = call.services.center.client(data.get("client_id")) if session is not None else None
        if session is not None and wanted is not None and not call.services.center.satisfies(session, wanted.app_name):
            session = None  # the app requires a second factor this session has not passed: sign in again
    try:
        grant = call.provider.get_consent_grant(request, end_user=session)
    except OAuth2Error as error:
        if error.redirect_uri:
            return Response(302, headers={"Location": call.provider.redirect_error(error, data.get("state"))}, body="")
        detail = error.description or error.error
        return call.message(
            pages.text("error_title", call.lang), pages.text("bad_request", call.lang, detail=detail), 400
        )
    client = grant.client.app
    cookies: list[Cookie] = []
    if sign_in:
        outcome = _sign_in(call, client, grant.redirect_uri)
        if isinstance(outcome, Response):
            return outcome
        cookie_value, session = outcome
        lifetime = int(session.expires_at - session.auth_time)
        cookies.append(host_cookie(COOKIE, cookie_value, max_age=lifetime))
        prompt = _passkey_prompt(call, session.user_id, call.here(), [grant.redirect_uri])
        if prompt is not None:
            prompt.cookies[:0] = cookies
            return prompt
        cookies.append(host_cookie(guard.CSRF_COOKIE, "", max_age=0, same_site=SameSite.STRICT_MODE))
    if session is None:
        hint = {"username": data.get("login_hint") or ""}
        return _sign_in_view(call, client, grant.redirect_uri, call.query.get("tab", "password"), hint)
    answer = call.provider.create_authorization_response(request, grant_user=session, grant=grant)
    return answer_of(answer, cookies)


SIGN_IN_FIELDS = (
    "csrf_token", "method", "username", "password", "confirm_password", "new_password", "captcha_key",
    "captcha_code", "phone", "sms_code", "email", "email_code", "code", "tab", "mfa_code",
)  # fmt: skip
LOGIN_TABS = ("password", "sms", "email", "wechat")
SENDS = {  # a form's "send code" button: channel, code type, and the view it shows again
    "sms_send": ("sms", "login", "sms"),
    "email_send": ("email", "login", "email"),
    "register_email_send": ("email", "register", "register"),
    "register_sms_send": ("sms", "register", "register"),
    "reset_sms_send": ("sms", "reset_password", "forgot"),
    "reset_email_send": ("email", "reset_password", "forgot_email"),
}
VIEW_OF = {  # each form method, and the view that shows it
    **{tab: tab for tab in LOGIN_TABS},
    "register": "register",
    "reset_sms": "forgot",
    "reset_email": "forgot_email",
    **{method: sent[2] for method, sent in SENDS.items()},
}
FORM_METHODS = {*VIEW_OF, "mfa"}  # "mfa": the second step (shared.center.second_step)
KEPT = {  # what a view's form keeps when it is shown again (never a password or a code)
    "password": ("username",),
    "sms": ("phone",),
    "email": ("email",),
    "wechat": (),
    "register": ("username", "email", "phone"),
    "forgot": ("phone",),
    "forgot_email": ("email",),
}
WECHAT_COOKIE = "__Host-uc_wx"  # binds a WeChat round trip to the browser that started it
WECHAT_ORIGIN = "https://open.weixin.qq.com"
CODE_FIELDS = {"sms": ("phone", "sms_code"), "email": ("email", "email_code")}
AMR = {"sms": ["sms"], "email": ["otp"]}  # RFC 8176 values (an emailed code is a one-time password)


def _sign_in_page(
    call: Call,
    client: Any,
    redirect_uri: str,
    view: str = "password",
    fields: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
    wait: int = 0,
    sent: str | None = None,
    send_captcha: bool = False,
) -> Response[str]:
    """The center's sign-in page in one of its views: a sign-in tab, register, or forgot password
    (``send_captcha``: the next "send code" needs a captcha, as the API's 429 ``captcha_required`` says)."""
    view = view if view in KEPT else "password"
    wechat = _wechat_choice(call, client, with_urls=view == "wechat")
    tabs = [name for name in LOGIN_TABS if name != "wechat" or wechat is not None]
    view = "password" if view == "wechat" and wechat is None else view
    cookies: list[Cookie] = []
    if view == "wechat" and wechat is not None and "cookie" in wechat:
        cookies.append(wechat.pop("cookie"))
    settings = call.services.apps.settings_of(client.app_name)
    captcha = None
    if (view == "password" and settings is not None and settings.require_captcha) or send_captcha:
        made = call.services.captchas.new()
        captcha = {"key": made["captcha_key"], "image": made["image"]}
    template = "login.html" if view in LOGIN_TABS else "register.html" if view == "register" else "forgot.html"
    usable = passkeys_usable(http.header(call.headers, "user-agent"))
    passkey = None
    if view == "password" and usable:
        after = call.here(tab="password") if redirect_uri else f"{call.base}/account"
        passkey = {
            "options": f"{call.base}/center/passkeys/login/options",
            "verify": f"{call.base}/center/passkeys/login",
            "after": after,
        }
    return call.page(
        template,
        status,
        form_targets=[redirect_uri],
        frames=[WECHAT_ORIGIN] if view == "wechat" else None,
        csrf=True,
        cookies=cookies,
        app_name=client.display_name or client.app_name,
        action=call.here(tab=view),
        tab=view,
        channel="email" if view == "forgot_email" else "sms",
        tabs={name: call.here(tab=name) for name in tabs},
        views={name: call.here(tab=name) for name in ("password", "register", "forgot", "forgot_email")},
        wechat=wechat if view == "wechat" else None,
        need_email=bool(settings and settings.require_email_verification),
        need_phone=bool(settings and settings.require_phone_verification),
        fields=fields or {},
        error=error,
        notice=notice,
        wait=wait,
        sent=sent,
        captcha=captcha if view == "password" else None,
        send_captcha=captcha if send_captcha else None,
        passkey=passkey,
        webview=not usable and view == "password",
    )


def _sign_in_view(
    call: Call, client: AppConfig, redirect_uri: str, view: str, fields: dict[str, str] | None = None
) -> Response[str]:
    """A GET of the sign-in page: the view asked for, or the second step when this browser holds a
    sign-in waiting for it (an expired one: the sign-in page, saying so)."""
    if view in second_step.VIEWS:
        if second_step.waiting(call):
            return second_step.page(call, [redirect_uri] if redirect_uri else [], view=view)
        return _sign_in_page(call, client, redirect_uri, "password", error=second_step.expired(call), status=400)
    return _sign_in_page(call, client, redirect_uri, view, fields)


def _second_step(call: Call, client: AppConfig, redirect_uri: str) -> tuple[str, Any] | Response[str]:
    """The second step's form: the center session (with the recovery codes to save first, when it set up
    the second factor), or the step again with why not; an expired sign-in starts again."""
    targets = [redirect_uri] if redirect_uri else []
    lang = "en" if call.lang == "en" else "zh"
    try:
        cookie_value, session, codes = call.services.mfa.center_verify(
            second_step.token_of(call), call.form.get("mfa_code", "")[:32]
        )
    except MfaTokenInvalidError:
        return _sign_in_page(call, client, redirect_uri, "password", error=second_step.expired(call), status=400)
    except RateLimitedError as exc:
        locked = pages.text("locked", call.lang, seconds=int((exc.data or {}).get("retry_after") or 60))
        return second_step.page(call, targets, error=locked, status=429)
    except AppError as exc:  # a wrong, replayed or spent code
        return second_step.page(call, targets, error=exc.message(lang), status=exc.status)
    if not codes:
        return cookie_value, session
    after = call.here() if redirect_uri else f"{call.base}/account"
    response = second_step.codes_page(call, codes, after)
    response.cookies.append(host_cookie(COOKIE, cookie_value, max_age=int(session.expires_at - session.auth_time)))
    return response


def _sign_in(call: Call, client: AppConfig, redirect_uri: str) -> tuple[str, Any] | Response[str]:
    """The sign-in page's forms: a center session, or the page again with why not (the API's limits,
    lockout and messages). ``method``: ``password``; ``sms`` / ``email`` (a ``login`` code); ``wechat``
    (mocked in local mode); ``register``; ``reset_sms`` / ``reset_email`` (a new password by code,
    then the password tab); the ``*_send`` buttons send a code and show the view with its countdown."""
    app_name = client.app_name
    method = call.form.get("method", "")
    view = VIEW_OF.get(method, "password")
    fields = {k: call.form.get(k, "")[:254] for k in KEPT[view]}
    form = {k: call.form.get(k, "")[:128] for k in SIGN_IN_FIELDS}
    lang = "en" if call.lang == "en" else "zh"

    def again(error: str, status: int) -> Response[str]:
        return _sign_in_page(call, client, redirect_uri, view, fields, error, status)

    if not call.csrf_passes():
        return again(pages.text("form_expired", call.lang), 403)
    if method == "mfa":
        return _second_step(call, client, redirect_uri)
    try:
        if method in SENDS:
            channel, code_type, _ = SENDS[method]
            target = fields.get(CODE_FIELDS[channel][0], "")
            key, typed = form["captcha_key"], form["captcha_code"]
            captcha = (lambda: call.services.captchas.check(key, typed)) if key else None
            answer = call.services.codes.send(channel, target, code_type, http.client_info(call.event).ip, captcha)
            notice = pages.text("code_sent", call.lang, minutes=max(1, int(answer.get("expires_in", 300)) // 60))
            wait = int(answer.get("resend_after", 60))
            return _sign_in_page(call, client, redirect_uri, view, fields, notice=notice, wait=wait, sent=channel)
        if method in ("reset_sms", "reset_email"):
            channel = method.removeprefix("reset_")
            target_field, code_field = CODE_FIELDS[channel]
            call.services.code_flows.reset_password(
                channel, fields[target_field], form[code_field], form["new_password"], form["confirm_password"]
            )
            done = pages.text("password_reset_done", call.lang)
            return _sign_in_page(call, client, redirect_uri, "password", {}, notice=done)
        if method == "register":
            command = RegisterCommand(
                username=fields["username"],
                password=form["password"],
                confirm_password=form["confirm_password"],
                email=fields["email"] or None,
                phone=fields["phone"] or None,
                app_name=app_name,
                email_code=form["email_code"] or None,
                sms_code=form["sms_code"] or None,
            )
            return call.services.center.open(
                call.services.accounts.sign_up(command, http.client_info(call.event)), ["pwd"], app_name=app_name
            )
        if method == "wechat":
            kind = "mp" if in_wechat(http.header(call.headers, "user-agent")) else "web"
            record = call.services.wechat.center_sign_in(app_name, kind, form["code"][:64])
            return call.services.center.open(record, ["wechat"], app_name=app_name)
        if method in CODE_FIELDS:
            target_field, code_field = CODE_FIELDS[method]
            record, uses = call.services.code_flows.center_sign_in(
                method, fields[target_field], form[code_field], app_name
            )
            return call.services.center.open(record, AMR[method], uses, app_name=app_name)
        record, rehash = call.services.accounts.verify_password(
            fields.get("username", ""), form["password"], app_name, form["captcha_key"], form["captcha_code"]
        )
        return call.services.center.open(record, ["pwd"], app_name=app_name, changes=[rehash] if rehash else [])
    except MfaRequired as due:
        return second_step.page(call, [redirect_uri] if redirect_uri else [], token=due.mfa_token)
    except InvalidCredentialsError:
        return again(pages.text("bad_credentials", call.lang), 401)
    except CaptchaRequiredError as exc:
        return _sign_in_page(call, client, redirect_uri, view, fields, exc.message(lang), 429, send_captcha=True)
    except CaptchaInvalidError as exc:
        retry = method in SENDS  # a send's captcha was wrong: a new one for the next try
        return _sign_in_page(call, client, redirect_uri, view, fields, exc.message(lang), 400, send_captcha=retry)
    except RateLimitedError as exc:
        return again(pages.text("locked", call.lang, seconds=int((exc.data or {}).get("retry_after") or 60)), 429)
    except NotFoundError:
        return again(pages.text("no_email_account", call.lang), 404)
    except AppError as exc:  # the API's answer: a bad field, a taken name, a wrong code, WeChat's refusal
        detail = "; ".join(f"{name}: {', '.join(texts)}" for name, texts in (exc.errors or {}).items())
        return again(exc.message(lang) + (f" ({detail})" if detail else ""), exc.status)


def _wechat_usable(call: Call, client: Any, kind: str) -> str | None:
    """``mock`` (local mode without an AppID), ``real``, or None (no AppID for it outside local mode)."""
    try:
        return "mock" if call.services.wechat.mock_mode(client, kind) else "real"
    except AppError:  # WechatNotConfiguredError
        return None


def _wechat_choice(call: Call, client: Any, with_urls: bool, bind: str | None = None) -> dict[str, Any] | None:
    """How the page offers WeChat (None: not at all, the app has no AppID for it outside local mode).

    Inside WeChat's browser: the official-account OAuth. Elsewhere: a sign-in QR code that the phone's
    WeChat scans (the official account's OAuth on the phone), while this page polls until the scan is
    done; or, with only an open-platform AppID, WeChat's own QR page in a frame. Locally, WeChat is mocked
    (a form here, and on the page the QR code opens). Every round trip is bound to this browser by a
    cookie; ``bind``: the account page's "link WeChat" (no QR ticket, the signed-in user links)."""
    inside = in_wechat(http.header(call.headers, "user-agent"))
    mp, web = _wechat_usable(call, client, "mp"), _wechat_usable(call, client, "web")
    if (mp if inside else mp or web) is None:
        return None
    choice: dict[str, Any] = {"mock": (mp if inside else web if web == "real" or mp is None else mp) == "mock"}
    choice["in_wechat"] = inside
    if not with_urls or (choice["mock"] and (inside or bind)):
        return choice
    nonce = guard.new_csrf_token()
    query = urlencode({k: v for k, v in call.query.items() if k != "tab"})
    # Where the browser goes once signed in: the authorization request again, or the account page
    after = "/account" if call.event.get("resource") in ("/login", "/account") else f"/oauth2/authorize?{query}"
    data: dict[str, Any] = {"center": after, "browser": hashlib.sha256(nonce.encode()).hexdigest()}
    choice["cookie"] = host_cookie(WECHAT_COOKIE, nonce, max_age=600)
    wechat = call.services.wechat
    # The QR ticket needs the official account (or its mock); a real open-platform AppID, when the
    # official account is not real too, is WeChat's own QR page
    ticket_flow = mp == "real" or (mp == "mock" and web != "real")
    if bind or inside or not ticket_flow:
        if bind:
            data["bind"] = bind
        kind = "mp" if inside else "web"
        choice["url"], choice["frame_url"] = wechat.authorize_urls(
            client, kind, f"{call.issuer}/center/wechat/callback", data
        )
        return choice
    ticket = wechat.new_ticket({**data, "app_name": client.app_name})
    scan_url = f"{call.issuer}/center/wechat/scan?{urlencode({'ticket': ticket})}"
    choice["qr"] = segno.make(scan_url, error="m").svg_data_uri(scale=5, border=2)
    choice["scan_url"] = scan_url
    choice["poll"] = f"{call.base}/center/wechat/poll?{urlencode({'ticket': ticket})}"
    return choice


@router.get("/center/wechat/bind", **http.raw_route("page"))
@tracer.capture_method
def wechat_bind() -> Response[str]:
    """The account page's "link WeChat": a WeChat round trip that links the signed-in user's WeChat."""
    call = Call(get_services(), _event())
    session = call.services.center.signed_in(call.cookies.get(COOKIE), None, None)
    if session is None:
        return redirect_to(f"{call.base}/login")
    app = call.services.apps.get(get_settings().default_app)
    choice = _wechat_choice(call, app, with_urls=True, bind=session.user_id)
    if choice is None or "url" not in choice:  # no WeChat here, or mocked (the account page has the form)
        return redirect_to(f"{call.base}/account")
    response = redirect_to(str(choice["url"]))
    response.cookies.append(choice["cookie"])
    return response


@router.get("/center/wechat/scan", **http.raw_route("page"))
@tracer.capture_method
def wechat_scan() -> Response[str]:
    """What a sign-in QR code opens on the phone: the official account's OAuth in WeChat (mocked locally:
    a form), whose answer signs in the computer that shows the code."""
    call = Call(get_services(), _event())
    title = pages.text("error_title", call.lang)
    ticket = call.query.get("ticket", "")
    found = call.services.wechat.ticket(ticket)
    if found is None or found[1] is not None:
        return call.message(title, pages.text("ticket_gone", call.lang), 400)
    app = call.services.apps.get(str(found[0].get("app_name") or get_settings().default_app))
    if _wechat_usable(call, app, "mp") == "mock":
        return call.page("scan.html", csrf=True, action=call.here())
    if not in_wechat(http.header(call.headers, "user-agent")):
        return call.message(title, pages.text("open_in_wechat", call.lang), 400)
    url, _ = call.services.wechat.authorize_urls(app, "mp", f"{call.issuer}/center/wechat/callback", {"scan": ticket})
    return redirect_to(url)


@router.post("/center/wechat/scan", **http.raw_route("page"))
@tracer.capture_method
def wechat_scan_mock() -> Response[str]:
    """Local mode: the mocked WeChat user who scans the code."""
    call = Call(get_services(), _event())
    title = pages.text("error_title", call.lang)
    found = call.services.wechat.ticket(call.query.get("ticket", ""))
    if found is None:
        return call.message(title, pages.text("ticket_gone", call.lang), 400)
    app = call.services.apps.get(str(found[0].get("app_name") or get_settings().default_app))
    if _wechat_usable(call, app, "mp") != "mock" or not call.csrf_passes():
        return call.message(title, pages.text("form_expired", call.lang), 403)
    return _scanned(call, call.query.get("ticket", ""), app.app_name, call.form.get("code", "")[:64])


def _scanned(call: Call, ticket: str, app_name: str, code: str) -> Response[str]:
    lang = "en" if call.lang == "en" else "zh"
    title = pages.text("error_title", call.lang)
    try:
        record = call.services.wechat.center_sign_in(app_name, "mp", code)
    except AppError as exc:
        return call.message(title, exc.message(lang), exc.status)
    if not call.services.wechat.scan(ticket, record.user.user_id):
        return call.message(title, pages.text("ticket_gone", call.lang), 400)
    return call.message(pages.text("tab_wechat", call.lang), pages.text("scan_done", call.lang), 200, alert=False)


@router.get("/center/wechat/poll", **http.raw_route("json"))
def wechat_poll() -> Response[str]:
    """The computer's page asks whether its QR code was scanned: ``pending``, ``expired``, or ``done``
    with where to go (the center session is set then, for the browser that showed the code only)."""
    call = Call(get_services(), _event())
    ticket = call.query.get("ticket", "")
    found = call.services.wechat.ticket(ticket)
    if found is None:
        return http.raw({"status": "expired"}, no_store=True)
    data, scanner = found
    nonce = call.cookies.get(WECHAT_COOKIE, "")
    if not hmac.compare_digest(hashlib.sha256(nonce.encode()).hexdigest(), str(data.get("browser") or "")):
        return http.raw({"status": "expired"}, status=403, no_store=True)
    if scanner is None:
        return http.raw({"status": "pending"}, no_store=True)
    if call.services.wechat.states.take(ticket, call.services.wechat.clock()) is None:
        return http.raw({"status": "expired"}, no_store=True)  # another poll of this browser took it
    record = call.services.accounts.item(scanner)
    if record.user.status != "active":
        return http.raw({"status": "expired"}, no_store=True)
    try:
        cookie_value, session = call.services.center.open(record, ["wechat"], app_name=data.get("app_name"))
    except MfaRequired as due:  # the page goes on to the second step, its token in this browser's cookie
        answer = http.raw({"status": "done", "next": _second_step_url(call, str(data["center"]))}, no_store=True)
        answer.cookies += [_mfa_cookie(due), host_cookie(WECHAT_COOKIE, "", max_age=0)]
        return answer
    answer = http.raw({"status": "done", "next": f"{call.base}{data['center']}"}, no_store=True)
    answer.cookies.append(host_cookie(COOKIE, cookie_value, max_age=int(session.expires_at - session.auth_time)))
    answer.cookies.append(host_cookie(WECHAT_COOKIE, "", max_age=0))
    return answer


@router.get("/center/wechat/callback", **http.raw_route("page"))
@tracer.capture_method
def wechat_callback() -> Response[str]:
    """WeChat's redirect back after a sign-in at the center: the WeChat user's center session, then the
    authorization request again, which the session now answers with a code."""
    call = Call(get_services(), _event())
    lang = "en" if call.lang == "en" else "zh"
    title = pages.text("error_title", call.lang)
    try:
        data = call.services.wechat.take_state(call.query.get("state"))
    except AppError as exc:
        return call.message(title, exc.message(lang), exc.status)
    if data.get("scan"):  # on the phone: no cookie of the computer's browser here
        return _scanned(call, str(data["scan"]), str(data.get("app_name") or ""), call.query.get("code", "")[:256])
    nonce = call.cookies.get(WECHAT_COOKIE, "")
    expected = str(data.get("browser") or "")
    if not data.get("center") or not hmac.compare_digest(hashlib.sha256(nonce.encode()).hexdigest(), expected):
        return call.message(title, pages.text("form_expired", call.lang), 403)
    kind, code = str(data.get("type") or "web"), call.query.get("code", "")[:256]
    if data.get("bind"):  # linking WeChat from the account page, still signed in as that user
        session = call.services.center.signed_in(call.cookies.get(COOKIE), None, None)
        if session is None or session.user_id != data["bind"]:
            return call.message(title, pages.text("form_expired", call.lang), 403)
        try:
            call.services.wechat.bind(session.user_id, str(data.get("app_name") or ""), kind, code)
        except AppError as exc:
            return call.message(title, exc.message(lang), exc.status)
        return redirect_to(f"{call.base}/account")
    try:
        record = call.services.wechat.center_sign_in(data.get("app_name"), kind, code)
        cookie_value, session = call.services.center.open(record, ["wechat"], app_name=data.get("app_name"))
    except MfaRequired as due:
        location = _second_step_url(call, str(data["center"]))
        cookies = [_mfa_cookie(due), host_cookie(WECHAT_COOKIE, "", max_age=0)]
        return Response(302, headers={"Location": location, "Cache-Control": "no-store"}, body="", cookies=cookies)
    except AppError as exc:
        return call.message(title, exc.message(lang), exc.status)
    cookies = [
        host_cookie(COOKIE, cookie_value, max_age=int(session.expires_at - session.auth_time)),
        host_cookie(WECHAT_COOKIE, "", max_age=0),
    ]
    location = f"{call.base}{data['center']}"
    return Response(302, headers={"Location": location, "Cache-Control": "no-store"}, body="", cookies=cookies)


def _second_step_url(call: Call, after: str) -> str:
    """Where a WeChat sign-in that needs its second factor goes: the second-step view of the page it
    came from (the authorization request, or the center's own sign-in)."""
    if after.startswith("/oauth2/authorize"):
        return f"{call.base}{after}{'&' if '?' in after else '?'}tab=mfa"
    return f"{call.base}/login?tab=mfa"


def _mfa_cookie(due: MfaRequired) -> Cookie:
    return host_cookie(second_step.MFA_COOKIE, due.mfa_token, max_age=TICKET_SECONDS)


# -- the center's own sign-in and the account page ------------------------------------------------------
@router.get("/login", **http.raw_route("page"))
@tracer.capture_method
def login_page() -> Response[str]:
    """The center's own sign-in (no client): the same page and methods, then the account page."""
    call = Call(get_services(), _event())
    if call.services.center.signed_in(call.cookies.get(COOKIE), None, None) is not None:
        return redirect_to(f"{call.base}/account")
    app = call.services.apps.get(get_settings().default_app)
    return _sign_in_view(call, app, "", call.query.get("tab", "password"))


@router.post("/login", **http.raw_route("page"))
@tracer.capture_method
def login_submit() -> Response[str]:
    call = Call(get_services(), _event())
    app = call.services.apps.get(get_settings().default_app)
    outcome = _sign_in(call, app, "")
    if isinstance(outcome, Response):
        return outcome
    cookie_value, session = outcome
    center_cookie = host_cookie(COOKIE, cookie_value, max_age=int(session.expires_at - session.auth_time))
    response = _passkey_prompt(call, session.user_id, f"{call.base}/account", []) or redirect_to(f"{call.base}/account")
    response.cookies.insert(0, center_cookie)
    return response


PROMPTED_COOKIE = "__Host-uc_pk_asked"  # the passkey prompt was shown in this browser (30 days)


def _passkey_prompt(call: Call, user_id: str, after: str, form_targets: list[str]) -> Response[str] | None:
    """After a sign-in with a password or a code: "sign in faster next time with a passkey", skippable,
    once a month per browser, to a person without a passkey, in a browser that can make one (the page's
    script goes straight on where WebAuthn is missing)."""
    agent = http.header(call.headers, "user-agent")
    if (
        call.cookies.get(PROMPTED_COOKIE)
        or not passkeys_usable(agent)
        or call.services.passkey_records.of_user(user_id)
    ):
        return None
    asked = host_cookie(PROMPTED_COOKIE, "1", max_age=30 * 24 * 3600)
    return call.page(
        "passkey_prompt.html",
        form_targets=form_targets,
        csrf=True,
        cookies=[asked],
        options=f"{call.base}/center/passkeys/register/options",
        register=f"{call.base}/center/passkeys/register",
        after=after,
    )


@router.get("/account", **http.raw_route("page"))
@tracer.capture_method
def account_page() -> Response[str]:
    """The signed-in person's account: profile, sign-in methods, the apps and devices signed in (sign
    out one, or every app), change the password. Without a center session: the center's sign-in."""
    call = Call(get_services(), _event())
    session = call.services.center.signed_in(call.cookies.get(COOKIE), None, None)
    if session is None:
        return redirect_to(f"{call.base}/login")
    return _account(call, session.user_id)


@router.post("/account", **http.raw_route("page"))
@tracer.capture_method
def account_change() -> Response[str]:
    call = Call(get_services(), _event())
    session = call.services.center.signed_in(call.cookies.get(COOKIE), None, None)
    if session is None:
        return redirect_to(f"{call.base}/login")
    user_id, method = session.user_id, call.form.get("method", "")
    lang = "en" if call.lang == "en" else "zh"
    if not call.csrf_passes():
        return _account(call, user_id, error=pages.text("form_expired", call.lang), status=403)
    try:
        if method == "end_session":
            call.services.sessions.revoke(user_id, call.form.get("session_id", "")[:64])
            return _account(call, user_id, notice=pages.text("session_ended", call.lang))
        if method == "end_all":
            listed = [s.session_id for s in call.services.accounts.sessions_of(user_id)]
            count = call.services.sessions.delete_ids(listed)
            return _account(call, user_id, notice=pages.text("sessions_ended", call.lang, count=count))
        if method == "change_phone_send":
            phone = call.form.get("phone", "")[:32]
            answer = call.services.codes.send("sms", phone, "change_phone", http.client_info(call.event).ip)
            notice = pages.text("code_sent", call.lang, minutes=max(1, int(answer.get("expires_in", 300)) // 60))
            fields = {"phone": phone}
            return _account(call, user_id, notice=notice, fields=fields, wait=int(answer.get("resend_after", 60)))
        if method == "change_phone":
            app = get_settings().default_app
            phone, code = call.form.get("phone", "")[:32], call.form.get("sms_code", "")[:16]
            call.services.code_flows.change_phone(user_id, app, phone, code)
            return _account(call, user_id, notice=pages.text("phone_changed", call.lang))
        if method == "bind_wechat":
            kind = "mp" if in_wechat(http.header(call.headers, "user-agent")) else "web"
            call.services.wechat.bind(user_id, get_settings().default_app, kind, call.form.get("code", "")[:64])
            return _account(call, user_id, notice=pages.text("wechat_bound", call.lang))
        if method in MFA_ACTIONS:
            return _account_mfa(call, user_id, method)
        if method == "passkey_remove":
            client = http.client_info(call.event)
            audit = call.services.accounts.audit_event("passkey_removed", call.services.clock(), client)
            if not call.services.passkey_records.remove(user_id, call.form.get("passkey_id", "")[:1400], audit):
                raise NotFoundError()
            return _account(call, user_id, notice=pages.text("passkey_removed", call.lang))
        if method == "change_password":
            form = {k: call.form.get(k, "")[:128] for k in ("old_password", "new_password", "confirm_password")}
            call.services.accounts.change_password(
                user_id, None, form["old_password"], form["new_password"], form["confirm_password"]
            )
            page = call.message(
                pages.text("change_password", call.lang), pages.text("password_changed", call.lang), 200
            )
            page.cookies.append(host_cookie(COOKIE, "", max_age=0))  # the new password ended this session too
            return page
    except InvalidCredentialsError:
        return _account(call, user_id, error=pages.text("bad_credentials", call.lang), status=401)
    except AppError as exc:
        detail = "; ".join(f"{name}: {', '.join(texts)}" for name, texts in (exc.errors or {}).items())
        return _account(call, user_id, error=exc.message(lang) + (f" ({detail})" if detail else ""), status=exc.status)
    return _account(call, user_id, status=400)


MFA_ACTIONS = ("totp_setup", "totp_confirm", "recovery_new", "totp_disable")


def _account_mfa(call: Call, user_id: str, method: str) -> Response[str]:
    """The account page's second factor: set up (a QR code, then a code to confirm: recovery codes shown
    once), new recovery codes, turning it off (both with a current code, counted like a sign-in)."""
    mfa, client = call.services.mfa, http.client_info(call.event)
    code = call.form.get("mfa_code", "")[:32]
    if method == "totp_setup":
        mfa.setup(user_id)
        return _account(call, user_id)
    if method == "totp_confirm":
        codes = mfa.confirm(user_id, code, client)
        return _account(call, user_id, notice=pages.text("totp_enabled", call.lang), recovery_codes=codes)
    if method == "recovery_new":
        return _account(call, user_id, recovery_codes=mfa.new_recovery_codes(user_id, code, client))
    mfa.disable(user_id, code, client)
    return _account(call, user_id, notice=pages.text("totp_disabled", call.lang))


def _account(
    call: Call,
    user_id: str,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    fields: dict[str, str] | None = None,
    wait: int = 0,
    recovery_codes: list[str] | None = None,
) -> Response[str]:
    record = call.services.accounts.item(user_id)
    setup = call.services.mfa.pending(user_id) if record.mfa.totp_pending and not record.mfa.enabled else None
    app = call.services.apps.get(get_settings().default_app)
    wechat = _wechat_choice(call, app, with_urls=False, bind=user_id)  # the link starts a round trip
    methods = []
    for account in record.accounts:
        kind = {"password": "method_password", "phone": "method_phone"}.get(account.provider, "method_wechat")
        label = pages.text(kind, call.lang)
        methods.append(f"{label} ({account.account_type})" if account.account_type else label)
    sessions = [
        {
            "session_id": s.session_id,
            "app_name": s.app_name,
            "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(s.created_at)),
            "ip": s.ip,
            "user_agent": (s.user_agent or "")[:120],
        }
        for s in call.services.accounts.sessions_of(user_id)
    ]
    return call.page(
        "account.html",
        status,
        csrf=True,
        action=call.here(),
        wechat=wechat,
        bind_url=f"{call.base}/center/wechat/bind",
        fields=fields or {},
        wait=wait,
        sent="sms" if wait else None,
        user=record.user,
        methods=methods,
        sessions=sessions,
        logout=f"{call.base}/oauth2/logout",
        notice=notice,
        error=error,
        mfa={"on": record.mfa.enabled, "left": len(record.mfa.recovery_codes)},
        passkeys=[
            {
                "id": p.credential_id,
                "name": p.name,
                "created": time.strftime("%Y-%m-%d", time.gmtime(p.created_at)),
                "used": time.strftime("%Y-%m-%d", time.gmtime(p.last_used_at)) if p.last_used_at else None,
                "synced": p.backed_up,
            }
            for p in call.services.passkey_records.of_user(user_id)
        ],
        passkey_add={
            "options": f"{call.base}/center/passkeys/register/options",
            "register": f"{call.base}/center/passkeys/register",
        }
        if passkeys_usable(http.header(call.headers, "user-agent"))
        else None,
        setup={"secret": setup.secret, "qr": segno.make(setup.otpauth_uri, error="m").svg_data_uri(scale=5)}
        if setup
        else None,
        recovery_codes=recovery_codes,
    )


# -- token, userinfo, revocation ---------------------------------------------------------------------
@router.post("/oauth2/token", **http.raw_route("json"))
@tracer.capture_method
def token() -> Response[str]:
    """The token endpoint: ``authorization_code`` (with the PKCE verifier) and ``refresh_token``."""
    return _client_endpoint(lambda provider, request: provider.create_token_response(request))


@router.get("/oauth2/userinfo", **http.raw_route("json"))
@router.post("/oauth2/userinfo", **http.raw_route("json"))
@tracer.capture_method
def userinfo() -> Response[str]:
    """The claims the session's scopes release about its user (bearer access token of a session the
    center opened)."""
    services = get_services()
    header = http.header(router.current_event.headers, "authorization") or ""
    scheme, _, credential = header.partition(" ")
    refused = _bearer_error(401, "invalid_token")
    if scheme.lower() != "bearer" or not credential:
        return refused
    try:
        _, session = services.sessions.verify(credential.strip())
        user = services.accounts.item(session.user_id).user
    except AppError:
        return refused
    if "openid" not in session.scope:
        return _bearer_error(403, "insufficient_scope")
    return http.raw(standard_claims(user, session.scope), no_store=True)


def _bearer_error(status: int, error: str) -> Response[str]:
    """RFC 6750 section 3: the error in ``WWW-Authenticate`` and in the body."""
    headers = {"WWW-Authenticate": f'Bearer error="{error}"', "Content-Type": "application/json"}
    return Response(status, headers=headers, body=json.dumps({"error": error}))


@router.post("/oauth2/revoke", **http.raw_route("json"))
@tracer.capture_method
def revoke() -> Response[str]:
    """RFC 7009: ends the app session of a refresh or access token the client holds."""
    return _client_endpoint(lambda provider, request: provider.create_endpoint_response("revocation", request))


def _client_endpoint(respond: Callable[[Provider, EventRequest], Answer]) -> Response[str]:
    """An endpoint a client calls (token, revocation): Authlib's answer, or its error for a malformed request."""
    call = Call(get_services(), _event())
    try:
        request = call.request()
    except OAuth2Error as error:
        return _oauth_error(error)
    return answer_of(respond(call.provider, request))


# -- logout -------------------------------------------------------------------------------------------
@router.get("/oauth2/logout", **http.raw_route("page"))
@router.post("/oauth2/logout", **http.raw_route("page"))
@tracer.capture_method
def logout() -> Response[str]:
    """RP-initiated logout: with a valid ``id_token_hint`` at once, else after the person confirms;
    the center session and every app session it opened end, and each client with a back-channel URI
    is told (after the answer). ``post_logout_redirect_uri`` must be one the client registered."""
    call = Call(get_services(), _event())
    method = str(call.event.get("httpMethod") or "GET").upper()
    confirmed = method == "POST" and call.form.get("confirm") == "1"
    if confirmed and not call.csrf_passes():
        return call.message(pages.text("error_title", call.lang), pages.text("form_expired", call.lang), 403)
    params = {k: v for k, v in call.form.items() if k not in ("csrf_token", "confirm")}
    try:
        request = call.request(params)
        request.confirmed = confirmed
        checked = call.provider.validate_endpoint_request("end_session", request)
    except OAuth2Error as error:
        detail = error.description or error.error
        return call.message(
            pages.text("error_title", call.lang), pages.text("bad_request", call.lang, detail=detail), 400
        )
    wanted = request.payload.data.get("post_logout_redirect_uri")
    if wanted and (checked.client is None or wanted not in checked.client.app.post_logout_redirect_uris):
        detail = "post_logout_redirect_uri is not registered for the client"
        return call.message(
            pages.text("error_title", call.lang), pages.text("bad_request", call.lang, detail=detail), 400
        )
    if checked.needs_confirmation and not confirmed:
        return call.page("logout.html", csrf=True, action=call.here())
    answer = call.provider.create_endpoint_response("end_session", checked)
    signed_out = getattr(request, "signed_out", None)
    backchannel.dispatch(backchannel.notices(call.services.center, call.issuer, signed_out), get_settings().local_mode)
    if signed_out is not None:
        logger.info("center sign-out", extra={"clients": len(signed_out.clients)})
    cleared = [host_cookie(COOKIE, "", max_age=0)]
    if isinstance(answer, Answer) and answer.location:
        return answer_of(answer, cleared)
    page = call.page(
        "message.html", title=pages.text("sign_out", call.lang), message=pages.text("signed_out", call.lang)
    )
    page.cookies.extend(cleared)
    return page
