"""Builds the domain services once per container (tests build their own with fakes).

Nothing is created at import: the first request calls :func:`get_services` (or, in the authorizer,
:func:`get_session_service`), which reads settings, binds the table and prepares the key ring loader.
Tests call :func:`override` to inject theirs. The authorizer's path imports only what it needs
(sessions and tokens), which keeps its cold start small (``make bench``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.config import Settings, get_settings
from shared.db.sessions import SessionRepository
from shared.db.table import Table
from shared.services.sessions import SessionService
from shared.services.signing_keys import KeyRingProvider, provider_from_settings
from shared.services.tokens import TokenService

if TYPE_CHECKING:
    from shared.db.users import UserRepository
    from shared.providers.base import CodeSender
    from shared.services.accounts import AccountService
    from shared.services.admin import AdminActions
    from shared.services.apps import AppDirectory
    from shared.services.captcha import CaptchaService
    from shared.services.code_flows import CodeFlows
    from shared.services.codes import CodeService
    from shared.services.departments import DepartmentService
    from shared.services.menus import MenuService
    from shared.services.role_admin import RoleAdmin
    from shared.services.roles import RoleService
    from shared.services.user_admin import UserAdmin
    from shared.services.wechat import WechatSignIn


@dataclass
class Services:
    settings: Settings
    table: Table
    users: UserRepository
    apps: AppDirectory
    tokens: TokenService
    sessions: SessionService
    accounts: AccountService
    roles: RoleService
    captchas: CaptchaService
    codes: CodeService
    code_flows: CodeFlows
    wechat: WechatSignIn
    user_admin: UserAdmin
    role_admin: RoleAdmin
    menus: MenuService
    departments: DepartmentService
    admin: AdminActions


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


def build_services(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    ids: IdFactory = new_id,
    keys: KeyRingProvider | None = None,
    senders: dict[str, CodeSender] | None = None,
) -> Services:
    """Wire the services for ``settings``; every dependency can be replaced."""
    from shared.db.apps import AppRepository
    from shared.db.captchas import CaptchaRepository
    from shared.db.codes import CodeRepository
    from shared.db.departments import DepartmentRepository
    from shared.db.menus import MenuRepository
    from shared.db.states import StateRepository
    from shared.db.throttle import ThrottleRepository
    from shared.db.users import UserRepository
    from shared.providers.factory import LazySenders
    from shared.providers.wechat import WechatClient
    from shared.services.accounts import AccountService, LoginLimits
    from shared.services.admin import AdminActions
    from shared.services.admin_scope import AdminScope
    from shared.services.apps import AppDirectory
    from shared.services.captcha import CaptchaService
    from shared.services.code_flows import CodeFlows
    from shared.services.codes import CodeLimits, CodeService
    from shared.services.departments import DepartmentService
    from shared.services.menus import MenuService
    from shared.services.passwords import BcryptHasher, PasswordPolicy
    from shared.services.role_admin import RoleAdmin
    from shared.services.roles import RoleService
    from shared.services.user_admin import UserAdmin
    from shared.services.wechat import WechatSignIn, secret_from_settings

    table = Table(settings.table_name, settings.region, settings.dynamodb_endpoint)
    users = UserRepository(table, clock)
    app_repository = AppRepository(table)
    apps = AppDirectory(app_repository, settings, clock, ids)
    sessions = build_session_service(settings, table, clock=clock, ids=ids, keys=keys)
    captchas = CaptchaService(CaptchaRepository(table), settings.captcha_ttl, clock, ids)
    throttle = ThrottleRepository(table)
    code_limits = CodeLimits(
        settings.code_ttl,
        settings.code_resend_seconds,
        settings.code_max_tries,
        settings.code_target_daily_limit,
        settings.code_ip_hourly_limit,
        settings.sms_allowed_country_codes,
    )
    codes = CodeService(CodeRepository(table), throttle, senders or LazySenders(settings), code_limits, clock)
    accounts = AccountService(
        users,
        apps,
        sessions,
        BcryptHasher(settings.bcrypt_rounds),
        PasswordPolicy(settings.password_min_length),
        clock=clock,
        ids=ids,
        audit_retention_days=settings.audit_retention_days,
        throttle=throttle,
        captchas=captchas,
        limits=LoginLimits(settings.login_max_failures, settings.login_lock_seconds),
        codes=codes,
        max_sessions=settings.max_sessions_per_user,
    )
    code_flows = CodeFlows(accounts, apps, sessions, users, codes, clock, ids)
    wechat = WechatSignIn(
        accounts,
        apps,
        sessions,
        users,
        StateRepository(table),
        throttle,
        WechatClient(settings.wechat_api_base, settings.wechat_timeout),
        settings,
        secret_from_settings(settings),
        clock,
        ids,
    )
    roles = RoleService(users, apps, clock)
    user_admin = UserAdmin(accounts, sessions, users, app_repository, clock)
    role_admin = RoleAdmin(apps, app_repository, clock, ids)
    menus = MenuService(MenuRepository(table), apps, app_repository, ids)
    departments = DepartmentService(DepartmentRepository(table), ids)
    admin = AdminActions(AdminScope(users), accounts, apps, roles, role_admin, user_admin, menus, departments)
    return Services(
        settings,
        table,
        users,
        apps,
        sessions.tokens,
        sessions,
        accounts,
        roles,
        captchas,
        codes,
        code_flows,
        wechat,
        user_admin,
        role_admin,
        menus,
        departments,
        admin,
    )


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
