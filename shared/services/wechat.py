"""WeChat sign-in and the three-layer account model (API.md section 2): user → accounts → sessions.

One person is one user; each WeChat login identity (``type`` web QR, official account ``mp``, ``miniapp``,
mobile ``app``: one ``app_id`` and ``open_id`` each) is an account of that user, and users are joined by
UnionID when WeChat gives one. Claim items keep (``wechat``, ``app_id``, ``open_id``) and the UnionID
unique under concurrency: of two first logins of one person at once, one creates the user and the other
joins it.

Mock mode (API.md sections 4 and 10): in local mode only (``make run`` and tests, never a deployed stack
whatever its stage), when the app has no AppID and secret for that type, the ``code`` is used as both
``openid`` and ``unionid`` with ``app_id`` ``mock-<type>``, and a mock code starting with ``admin`` also
grants the super-admin role. A deployed stack without WeChat credentials refuses WeChat sign-in (503).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.config import Settings
from shared.db import keys
from shared.db.states import StateRepository
from shared.db.throttle import ThrottleRepository
from shared.db.users import ClaimTakenError, UserRepository
from shared.domain import Account, AppConfig, ClientInfo, RoleGrant, Session, User, UserRecord
from shared.errors import (
    AppError,
    MfaRequired,
    RateLimitedError,
    UpstreamUnavailableError,
    UserDisabledError,
    ValidationError,
)
from shared.providers.wechat import WechatClient, WechatUser
from shared.services.accounts import AccountService, SignedIn
from shared.services.apps import WECHAT_TYPES, AppDirectory, origin_allowed
from shared.services.catalog import SUPER_ADMIN_APP, SUPER_ADMIN_ROLE
from shared.services.sessions import SessionService

T = TypeVar("T")
STATE_TTL = 600
QR_URL = "https://open.weixin.qq.com/connect/qrconnect"
MP_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"


def in_wechat(user_agent: str | None) -> bool:
    """True in WeChat's in-app browser (its User-Agent says ``MicroMessenger``)."""
    return "micromessenger" in (user_agent or "").lower()


class WechatNotConfiguredError(UpstreamUnavailableError):
    message_zh, message_en = "微信登录未配置", "WeChat sign-in is not configured"


class CallbackNotAllowedError(AppError):
    code, status = "CALLBACK_NOT_ALLOWED", 400
    message_zh, message_en = "回调地址不在允许列表中", "Callback URL is not allowed"


class StateInvalidError(AppError):
    code, status = "STATE_INVALID", 400
    message_zh, message_en = "state 无效或已使用", "State is invalid or already used"


class AccountLinkedError(AppError):
    code, status = "ACCOUNT_LINKED", 409
    message_zh, message_en = "该微信已绑定其他用户", "This WeChat identity belongs to another user"


@dataclass(frozen=True)
class WechatIdentity:
    account_type: str
    app_id: str
    user: WechatUser
    mock: bool = False

    @property
    def claim(self) -> str:
        return keys.account_claim("wechat", self.app_id, self.user.open_id)

    def account(self, now: float) -> Account:
        return Account(
            provider="wechat",
            open_id=self.user.open_id,
            account_type=self.account_type,
            app_id=self.app_id,
            nickname=self.user.nickname,
            avatar_url=self.user.avatar_url,
            created_at=now,
        )


def secret_from_settings(settings: Settings) -> Callable[[str], str | None]:
    """Secrets by AppID: ``WECHAT_SECRETS`` (JSON, local and tests), else the SSM SecureString
    ``/user-center/<stage>/wechat/<app_id>`` (Powertools Parameters, cached)."""

    def secret(app_id: str) -> str | None:
        inline = json.loads(settings.wechat_secrets or "{}")
        if app_id in inline:
            return str(inline[app_id])
        if not settings.wechat_secrets_ssm:
            return None
        from aws_lambda_powertools.utilities import parameters

        name = f"/user-center/{settings.stage}/wechat/{app_id}"
        try:
            return str(parameters.get_parameter(name, decrypt=True, max_age=300))
        except parameters.exceptions.GetParameterError:
            return None

    return secret


class WechatSignIn:
    def __init__(
        self,
        accounts: AccountService,
        apps: AppDirectory,
        sessions: SessionService,
        users: UserRepository,
        states: StateRepository,
        throttle: ThrottleRepository,
        client: WechatClient,
        settings: Settings,
        secret: Callable[[str], str | None],
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.accounts = accounts
        self.apps = apps
        self.sessions = sessions
        self.users = users
        self.states = states
        self.throttle = throttle
        self.client = client
        self.settings = settings
        self.secret = secret
        self.clock = clock
        self.ids = ids

    # -- configuration -----------------------------------------------------------------------------
    def app_id_of(self, app: AppConfig, account_type: str) -> str | None:
        """The AppID of this app for this type: the app's settings, else ``WECHAT_<TYPE>_APP_ID``."""
        if account_type not in WECHAT_TYPES:
            raise ValidationError({"type": [f"one of {', '.join(WECHAT_TYPES)}"]})
        configured = (app.wechat or {}).get(f"{account_type}_app_id")
        return configured or self.settings.wechat_app_id(account_type)

    def mock_mode(self, app: AppConfig, account_type: str) -> bool:
        """Mock mode: local mode, and no AppID (or no secret) for this type.

        Raises:
            WechatNotConfiguredError: outside local mode without an AppID (or without its secret).
        """
        app_id = self.app_id_of(app, account_type)
        if app_id and self.secret(app_id):
            return False
        if not self.settings.local_mode:
            raise WechatNotConfiguredError()
        return True

    def redirect_app_id(self, app: AppConfig, account_type: str) -> str:
        """The AppID a browser is sent to WeChat with (``mock-<type>`` in local mock mode).

        Raises:
            WechatNotConfiguredError: outside local mode without an AppID.
        """
        app_id = self.app_id_of(app, account_type)
        if app_id:
            return app_id
        if not self.settings.local_mode:
            raise WechatNotConfiguredError()
        return f"mock-{account_type}"

    # -- identities --------------------------------------------------------------------------------
    def identify(self, app: AppConfig, account_type: str, code: str) -> WechatIdentity:
        """Exchange a code for the WeChat identity (or make the mock one)."""
        if self.mock_mode(app, account_type):
            return WechatIdentity(account_type, f"mock-{account_type}", WechatUser(code, code), mock=True)
        app_id = str(self.app_id_of(app, account_type))
        secret = str(self.secret(app_id))
        if account_type == "miniapp":
            user = self.client.miniapp_user(app_id, secret, code)
        else:
            user = self.client.web_user(app_id, secret, code)
        return WechatIdentity(account_type, app_id, user)

    def sign_in(self, app_name: str | None, account_type: str, code: str, client: ClientInfo) -> SignedIn:
        """Sign in (creating the user or joining by UnionID) with a WeChat code.

        Raises:
            WechatApiError: WeChat rejected the code (400, with errcode/errmsg).
            UpstreamUnavailableError: WeChat timed out or failed (503).
            RateLimitedError: more than 5 sign-ins a minute for this openid.
            UserDisabledError: the user is disabled.
        """
        app_name, identity = self._identity(app_name, account_type, code)
        extra = self._dev_admin_grants(identity, code)
        return self._resolve(
            identity,
            lambda owner: self._login(owner, app_name, client, extra),
            lambda: self._create(identity, app_name, client, extra),
        )

    def center_sign_in(self, app_name: str | None, account_type: str, code: str) -> UserRecord:
        """The user a WeChat code names (created, or joined by UnionID), for the sign-in center, which
        opens its own session instead of an app session.

        Raises:
            as :meth:`sign_in`.
        """
        app_name, identity = self._identity(app_name, account_type, code)

        def existing(owner: str) -> UserRecord:
            record = self.accounts.get(owner, app_name)
            if record.user.status != "active":
                raise UserDisabledError()
            return record

        def new() -> UserRecord:
            _, grant = self.apps.default_grant(app_name)
            user, account = self._new_user(identity, [grant], None, None)
            return UserRecord(user=user, accounts=[account], grants=[grant])

        return self._resolve(identity, existing, new)

    def _identity(self, app_name: str | None, account_type: str, code: str) -> tuple[str, WechatIdentity]:
        """The app and the WeChat identity of a code, within the per-openid sign-in limit."""
        app_name = self.apps.resolve(app_name)
        identity = self.identify(self.apps.get(app_name), account_type, code)
        retry_after = self.throttle.hit("wechat", f"{identity.app_id}:{identity.user.open_id}", 5, 60, self.clock())
        if retry_after is not None:
            raise RateLimitedError(retry_after)
        return app_name, identity

    def _resolve(self, identity: WechatIdentity, owned: Callable[[str], T], new: Callable[[], T]) -> T:
        """``owned(user_id)`` for the identity's user (linking a new identity of a known UnionID first),
        else ``new()``; a concurrent first sign-in that wins is joined."""
        union = keys.union_claim(identity.user.union_id) if identity.user.union_id else None
        now = self.clock()
        for _ in range(3):
            by_account, by_union = self.users.identity_owners(identity.claim, union)
            owner = by_account or by_union
            if owner:
                if not by_account:
                    try:  # same person (UnionID), new identity: link it, then sign in
                        self.users.link_account(owner, identity.account(now), None, now)
                    except ClaimTakenError:
                        continue
                return owned(owner)
            try:
                return new()
            except ClaimTakenError:
                continue  # a concurrent first login created the user: join it
        raise UpstreamUnavailableError()

    def _dev_admin_grants(self, identity: WechatIdentity, code: str) -> list[RoleGrant]:
        if identity.mock and self.settings.local_mode and code.startswith("admin"):
            return [self.apps.grant_of(SUPER_ADMIN_APP, SUPER_ADMIN_ROLE)]
        return []

    def _login(self, user_id: str, app: str, client: ClientInfo, extra: list[RoleGrant]) -> SignedIn:
        record = self.accounts.get(user_id, app)

        def active(current: UserRecord) -> None:
            if current.user.status != "active":
                raise UserDisabledError()

        return self.accounts.sign_in(record, app, client, "wechat_login", active, extra_grants=extra)

    def _create(self, identity: WechatIdentity, app: str, client: ClientInfo, extra: list[RoleGrant]) -> SignedIn:
        _, grant = self.apps.default_grant(app)
        grants = [grant, *extra]
        gate = self.accounts.gate
        if gate is not None and gate.covers_new(app, grants):  # enrols a second factor before any session
            user, account = self._new_user(identity, grants, None, client.ip)
            new = UserRecord(user=user, accounts=[account], grants=grants)
            gate.challenge(new, app, client, "wechat_login", None, [], [])
        user_id = self.ids()
        tokens = self.sessions.new(user_id, app, grants, client)
        user, account = self._new_user(identity, grants, tokens.session, client.ip, user_id)
        record = UserRecord(user=user, accounts=[account], grants=grants)
        return SignedIn(tokens, record, app, created=True)

    def _new_user(
        self,
        identity: WechatIdentity,
        grants: list[RoleGrant],
        session: Session | None,
        ip: str | None,
        user_id: str | None = None,
    ) -> tuple[User, Account]:
        """Write a user made by a WeChat sign-in (with its first session, when there is one).

        Raises:
            ClaimTakenError: the identity (or its UnionID) was claimed meanwhile (nothing was written).
        """
        now = self.clock()
        open_id = identity.user.open_id
        user = User(
            user_id=user_id or self.ids(),
            nickname=identity.user.nickname or f"微信用户{open_id[-4:]}",
            avatar=identity.user.avatar_url,
            union_id=identity.user.union_id,
            created_at=now,
            last_login_at=now,
        )
        claims = [identity.claim] + ([keys.union_claim(user.union_id)] if user.union_id else [])
        account = identity.account(now)
        audit = {"action": "wechat_register", "at": now, "id": self.ids(), "ip": ip}
        self.users.create(user, claims, [account], grants, session, audit)
        return user, account

    def bind(self, user_id: str, app_name: str, account_type: str, code: str) -> UserRecord:
        """Link the WeChat identity behind ``code`` to the signed-in user.

        Raises:
            AccountLinkedError: that identity (or its UnionID) belongs to another user.
        """
        app = self.apps.get(self.apps.resolve(app_name))
        identity = self.identify(app, account_type, code)
        record = self.accounts.item(user_id)
        union = keys.union_claim(identity.user.union_id) if identity.user.union_id else None
        by_account, by_union = self.users.identity_owners(identity.claim, union)
        if (by_account and by_account != user_id) or (by_union and by_union != user_id):
            raise AccountLinkedError()
        if by_account != user_id:
            new_union = identity.user.union_id if not record.user.union_id and not by_union else None
            try:
                self.users.link_account(user_id, identity.account(self.clock()), new_union, self.clock())
            except ClaimTakenError as exc:
                raise AccountLinkedError() from exc
        return self.accounts.get(user_id, app.app_name)

    # -- browser flows -------------------------------------------------------------------------------
    def new_state(self, data: dict[str, Any]) -> str:
        state = self.ids()
        self.states.put(state, data, self.clock() + STATE_TTL)
        return state

    def check_redirect(self, app: AppConfig, url: str) -> str:
        if not url or not origin_allowed(url, list(app.allowed_callback_origins)):
            raise CallbackNotAllowedError()
        return url

    def qr_code(self, app_name: str | None, redirect_uri: str) -> dict[str, str]:
        """The open-platform QR page URL (``snsapi_login``) and its single-use ``state``."""
        app = self.apps.get(self.apps.resolve(app_name))
        self.check_redirect(app, redirect_uri)
        app_id = self.redirect_app_id(app, "web")
        state = self.new_state({"app_name": app.app_name, "type": "web", "redirect_uri": redirect_uri})
        url = (
            f"{QR_URL}?appid={quote(app_id)}&redirect_uri={quote(redirect_uri, safe='')}"
            f"&response_type=code&scope=snsapi_login&state={state}#wechat_redirect"
        )
        return {"qr_code_url": url, "state": state}

    # -- sign-in QR tickets: a computer's page shows a QR code, a phone's WeChat scans it -------------
    def new_ticket(self, data: dict[str, Any]) -> str:
        """A sign-in QR ticket (a state, 10 minutes) keeping ``data``."""
        return self.new_state({**data, "ticket": True})

    def ticket(self, ticket: str | None) -> tuple[dict[str, Any], str | None] | None:
        """A ticket's data and the user who scanned it (None while nobody has); None when unknown."""
        if not ticket or len(ticket) > 64:
            return None
        found = self.states.peek(ticket, self.clock())
        return found if found is not None and found[0].get("ticket") else None

    def scan(self, ticket: str, user_id: str) -> bool:
        """The WeChat user who scanned ``ticket`` (once); False when it is gone or was scanned."""
        return self.ticket(ticket) is not None and self.states.scanned(ticket, user_id, self.clock())

    def take_state(self, state: str | None) -> dict[str, Any]:
        data = self.states.take(state, self.clock()) if state and len(state) <= 64 else None
        if data is None:
            raise StateInvalidError()
        return data

    def login_redirect(
        self, app_name: str | None, callback_url: str, user_agent: str | None, callback_endpoint: str
    ) -> str:
        """Where to send a browser: WeChat's in-app browser to the official-account OAuth
        (``snsapi_userinfo``), every other browser to the QR page (``snsapi_login``)."""
        app = self.apps.get(self.apps.resolve(app_name))
        self.check_redirect(app, callback_url)
        account_type = "mp" if in_wechat(user_agent) else "web"
        # callback_endpoint: this API's /api/auth/wechat/callback, as the browser reaches it
        return self.authorize_urls(app, account_type, callback_endpoint, {"callback_url": callback_url})[0]

    def authorize_urls(self, app: AppConfig, account_type: str, redirect: str, data: dict[str, Any]) -> tuple[str, str]:
        """WeChat's authorization URL for a browser: the official-account OAuth (``snsapi_userinfo``,
        ``mp``) or the open platform's QR page (``snsapi_login``, ``web``), coming back to ``redirect``
        with a new single-use state that keeps ``data``; and the same inside a frame of the sign-in
        center's page (the QR page, which WeChat then leaves for ``redirect`` in the whole window).

        Raises:
            WechatNotConfiguredError: outside local mode without an AppID.
        """
        app_id = self.redirect_app_id(app, account_type)
        state = self.new_state({**data, "app_name": app.app_name, "type": account_type})
        base, scope = (MP_URL, "snsapi_userinfo") if account_type == "mp" else (QR_URL, "snsapi_login")
        url = (
            f"{base}?appid={quote(app_id)}&redirect_uri={quote(redirect, safe='')}"
            f"&response_type=code&scope={scope}&state={state}"
        )
        return f"{url}#wechat_redirect", f"{url}&login_type=jssdk&self_redirect=false#wechat_redirect"

    def callback(self, code: str, state: str, client: ClientInfo) -> tuple[str, SignedIn | None]:
        """Finish the redirect flow: the callback URL with ``userId``, ``token`` and ``refreshToken``
        (what the old clients read), and the sign-in. A user whose second factor is due comes back with
        ``mfa_required=1``, ``mfa_token`` and ``methods`` instead (no sign-in yet: the client finishes it
        at ``/api/auth/mfa/verify/``)."""
        data = self.take_state(state)
        callback_url = str(data.get("callback_url") or "")
        if not callback_url:
            raise StateInvalidError()
        joiner = "&" if "?" in callback_url else "?"
        try:
            signed_in = self.sign_in(data.get("app_name"), str(data.get("type", "web")), code, client)
        except MfaRequired as due:
            query = f"mfa_required=1&mfa_token={quote(due.mfa_token)}&methods={quote(','.join(due.methods))}"
            return f"{callback_url}{joiner}{query}", None
        query = (
            f"userId={quote(signed_in.user_id)}&token={quote(signed_in.tokens.access_token)}"
            f"&refreshToken={quote(signed_in.tokens.refresh_token)}"
        )
        return f"{callback_url}{joiner}{query}", signed_in
