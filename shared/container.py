"""Builds the domain services, each on first use (tests build their own with fakes).

Nothing is created at import. :class:`Services` is the one place that knows how the services are wired:
each one is a cached property that builds it from the others, so adding a service is one property here,
and a function builds only the services its requests touch (the admin function never loads WeChat's
client, the codes function never loads the admin scope). The authorizer's path goes through
:func:`get_session_service`, which imports only sessions and tokens and keeps its cold start small
(``make bench``). Tests call :func:`override` to inject theirs.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.config import Settings, get_settings
from shared.db.sessions import SessionRepository
from shared.db.table import Table
from shared.services.sessions import SessionService
from shared.services.signing_keys import KeyRingProvider, provider_from_settings
from shared.services.tokens import TokenService

if TYPE_CHECKING:
    from shared.db.apps import AppRepository
    from shared.db.mfa import MfaRepository
    from shared.db.passkeys import PasskeyRepository
    from shared.db.throttle import ThrottleRepository
    from shared.db.users import UserRepository
    from shared.providers.base import CodeSender
    from shared.services.accounts import AccountService
    from shared.services.admin import AdminActions
    from shared.services.apps import AppDirectory
    from shared.services.auth_codes import AuthCodeService
    from shared.services.captcha import CaptchaService
    from shared.services.center import SignInCenter
    from shared.services.center_sessions import CenterSessions
    from shared.services.code_flows import CodeFlows
    from shared.services.codes import CodeService
    from shared.services.departments import DepartmentService
    from shared.services.menus import MenuService
    from shared.services.mfa import SecondFactors
    from shared.services.passkeys import PasskeyService
    from shared.services.role_admin import RoleAdmin
    from shared.services.roles import RoleService
    from shared.services.secret_box import SecretBox
    from shared.services.user_admin import UserAdmin
    from shared.services.wechat import WechatSignIn


def build_session_service(
    settings: Settings,
    table: Table,
    *,
    clock: Clock = system_clock,
    ids: IdFactory = new_id,
    keys: KeyRingProvider | None = None,
) -> SessionService:
    """Tokens and sessions only: what the authorizer and verify-token need."""
    tokens = TokenService(
        keys or provider_from_settings(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=settings.access_token_ttl,
        clock=clock,
        ids=ids,
    )
    return SessionService(
        SessionRepository(table),
        tokens,
        refresh_ttl=settings.refresh_token_ttl,
        max_lifetime=settings.session_max_lifetime,
        reuse_memory=settings.refresh_reuse_memory,
        reuse_leeway=settings.refresh_reuse_leeway,
        clock=clock,
        ids=ids,
    )


class Services:
    """The services of one container, wired from ``settings``; clock, ids, signing keys and code senders
    can be replaced (tests, benchmarks). Each property builds its service once, on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
        keys: KeyRingProvider | None = None,
        senders: dict[str, CodeSender] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self._keys = keys
        self._senders = senders
        # Binding the table points the PynamoDB models at it (no I/O): every repository reads through them.
        self.table = Table(settings.table_name, settings.region, settings.dynamodb_endpoint)

    # -- storage -------------------------------------------------------------------------------------
    @cached_property
    def users(self) -> UserRepository:
        from shared.db.users import UserRepository

        return UserRepository(self.table, self.clock)

    @cached_property
    def app_records(self) -> AppRepository:
        from shared.db.apps import AppRepository

        return AppRepository(self.table, self.clock, self.settings.app_settings_cache_seconds)

    @cached_property
    def throttle(self) -> ThrottleRepository:
        from shared.db.throttle import ThrottleRepository

        return ThrottleRepository(self.table)

    # -- sign-in -------------------------------------------------------------------------------------
    @cached_property
    def sessions(self) -> SessionService:
        return build_session_service(self.settings, self.table, clock=self.clock, ids=self.ids, keys=self._keys)

    @cached_property
    def tokens(self) -> TokenService:
        return self.sessions.tokens

    @cached_property
    def apps(self) -> AppDirectory:
        from shared.services.apps import AppDirectory

        return AppDirectory(self.app_records, self.settings, self.clock, self.ids)

    @cached_property
    def auth_codes(self) -> AuthCodeService:
        from shared.db.auth_codes import AuthCodeRepository
        from shared.services.auth_codes import AuthCodeService

        return AuthCodeService(AuthCodeRepository(self.table), self.clock)

    @cached_property
    def center_sessions(self) -> CenterSessions:
        from shared.db.center_sessions import CenterSessionRepository
        from shared.services.center_sessions import CenterSessions

        return CenterSessions(
            CenterSessionRepository(self.table),
            self.clock,
            self.settings.center_session_idle,
            self.settings.center_session_max,
        )

    @cached_property
    def center(self) -> SignInCenter:
        from shared.services.center import SignInCenter
        from shared.services.oidc import IdTokens

        return SignInCenter(
            self.apps,
            self.accounts,
            self.sessions,
            self.auth_codes,
            self.center_sessions,
            IdTokens(self.tokens.keys, self.clock),
        )

    @cached_property
    def captchas(self) -> CaptchaService:
        from shared.db.captchas import CaptchaRepository
        from shared.services.captcha import CaptchaService

        return CaptchaService(CaptchaRepository(self.table), self.settings.captcha_ttl, self.clock, self.ids)

    @cached_property
    def codes(self) -> CodeService:
        from shared.db.codes import CodeRepository
        from shared.providers.factory import LazySenders
        from shared.services.codes import CodeLimits, CodeService

        s = self.settings
        limits = CodeLimits(
            s.code_ttl,
            s.code_resend_seconds,
            s.code_max_tries,
            s.code_target_daily_limit,
            s.code_ip_hourly_limit,
            s.sms_allowed_country_codes,
        )
        senders = self._senders or LazySenders(s)
        return CodeService(CodeRepository(self.table), self.throttle, senders, limits, self.clock)

    @cached_property
    def accounts(self) -> AccountService:
        from shared.services.accounts import AccountService, LoginLimits
        from shared.services.mfa_gate import MfaGate
        from shared.services.passwords import BcryptHasher, FailureFloor, PasswordPolicy

        s = self.settings
        return AccountService(
            self.users,
            self.apps,
            self.sessions,
            BcryptHasher(s.bcrypt_rounds, FailureFloor(s.bcrypt_rounds, s.legacy_pbkdf2_iterations)),
            PasswordPolicy(s.password_min_length),
            clock=self.clock,
            ids=self.ids,
            audit_retention_days=s.audit_retention_days,
            throttle=self.throttle,
            captchas=self.captchas,
            limits=LoginLimits(s.login_max_failures, s.login_lock_seconds),
            codes=self.codes,
            max_sessions=s.max_sessions_per_user,
            gate=MfaGate(self.apps, self.mfa_records, self.clock),
        )

    @cached_property
    def mfa_records(self) -> MfaRepository:
        from shared.db.mfa import MfaRepository

        return MfaRepository(self.table)

    @cached_property
    def secret_box(self) -> SecretBox:
        from shared.services.secret_box import box_from_settings

        return box_from_settings(self.settings)

    @cached_property
    def passkey_records(self) -> PasskeyRepository:
        """The stored passkeys (no WebAuthn library: the center's pages list and remove them too)."""
        from shared.db.passkeys import PasskeyRepository

        return PasskeyRepository(self.table)

    @cached_property
    def passkeys(self) -> PasskeyService:
        """Only the passkeys function builds it (``fido2`` is in its layer alone)."""
        from shared.services.passkeys import PasskeyService

        return PasskeyService(self.accounts, self.passkey_records, self.clock)

    @cached_property
    def mfa(self) -> SecondFactors:
        from shared.services.mfa import SecondFactors

        return SecondFactors(
            self.accounts,
            self.center_sessions,
            self.mfa_records,
            lambda: self.secret_box,
            self.settings.mfa_issuer,
            self.clock,
            self.ids,
        )

    @cached_property
    def code_flows(self) -> CodeFlows:
        from shared.services.code_flows import CodeFlows

        return CodeFlows(self.accounts, self.apps, self.sessions, self.users, self.codes, self.clock, self.ids)

    @cached_property
    def wechat(self) -> WechatSignIn:
        from shared.db.states import StateRepository
        from shared.providers.wechat import WechatClient
        from shared.services.wechat import WechatSignIn, secret_from_settings

        s = self.settings
        return WechatSignIn(
            self.accounts,
            self.apps,
            self.sessions,
            self.users,
            StateRepository(self.table),
            self.throttle,
            WechatClient(s.wechat_api_base, s.wechat_timeout),
            s,
            secret_from_settings(s),
            self.clock,
            self.ids,
        )

    # -- administration ------------------------------------------------------------------------------
    @cached_property
    def roles(self) -> RoleService:
        from shared.services.roles import RoleService

        return RoleService(self.users, self.apps, self.clock)

    @cached_property
    def user_admin(self) -> UserAdmin:
        from shared.services.user_admin import UserAdmin

        return UserAdmin(self.accounts, self.sessions, self.users, self.app_records, self.clock)

    @cached_property
    def role_admin(self) -> RoleAdmin:
        from shared.services.role_admin import RoleAdmin

        return RoleAdmin(self.apps, self.app_records, self.clock, self.ids)

    @cached_property
    def menus(self) -> MenuService:
        from shared.db.menus import MenuRepository
        from shared.services.menus import MenuService

        menus = MenuRepository(self.table, self.clock, self.settings.app_settings_cache_seconds)
        return MenuService(menus, self.apps, self.app_records, self.ids)

    @cached_property
    def departments(self) -> DepartmentService:
        from shared.db.departments import DepartmentRepository
        from shared.services.departments import DepartmentService

        return DepartmentService(DepartmentRepository(self.table), self.ids)

    @cached_property
    def admin(self) -> AdminActions:
        from shared.services.admin import AdminActions
        from shared.services.admin_scope import AdminScope
        from shared.services.user_import import UserImport

        return AdminActions(
            AdminScope(self.users),
            self.accounts,
            self.apps,
            self.roles,
            self.role_admin,
            self.user_admin,
            self.menus,
            self.departments,
            self.mfa,
            UserImport(self.users, self.apps, self.clock, self.ids),
        )


def build_services(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    ids: IdFactory = new_id,
    keys: KeyRingProvider | None = None,
    senders: dict[str, CodeSender] | None = None,
) -> Services:
    """The services for ``settings``; every dependency can be replaced."""
    return Services(settings, clock=clock, ids=ids, keys=keys, senders=senders)


_services: Services | None = None
_session_service: SessionService | None = None


def get_services() -> Services:
    """The services of this container, built on first use."""
    global _services
    if _services is None:
        _services = build_services(get_settings())
    return _services


def get_session_service() -> SessionService:
    """The session service alone (the authorizer's only dependency), built on first use."""
    global _session_service
    if _services is not None:
        return _services.sessions
    if _session_service is None:
        settings = get_settings()
        table = Table(settings.table_name, settings.region, settings.dynamodb_endpoint)
        _session_service = build_session_service(settings, table)
    return _session_service


def override(services: Services | None) -> None:
    """Replace (or with None, forget) the container's services: tests and local mode use it."""
    global _services, _session_service
    _services = services
    _session_service = None
