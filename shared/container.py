"""Builds the domain services once per container (tests build their own with fakes).

Nothing is created at import: the first request calls :func:`get_services`, which reads settings,
binds the table and prepares the key ring loader. Tests call :func:`override` to inject theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.config import Settings, get_settings
from shared.db.apps import AppRepository
from shared.db.sessions import SessionRepository
from shared.db.table import Table
from shared.db.users import UserRepository
from shared.services.accounts import AccountService, AppDirectory
from shared.services.passwords import BcryptHasher, PasswordPolicy
from shared.services.sessions import SessionService
from shared.services.signing_keys import KeyRingProvider, provider_from_settings
from shared.services.tokens import TokenService

# The authorizer only needs get_session_service(); its import cost is the same modules minus nothing
# heavy (bcrypt and the account service are small; Pydantic and the event handler are not imported).


@dataclass
class Services:
    settings: Settings
    table: Table
    users: UserRepository
    apps: AppDirectory
    tokens: TokenService
    sessions: SessionService
    accounts: AccountService


def build_services(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    ids: IdFactory = new_id,
    keys: KeyRingProvider | None = None,
) -> Services:
    """Wire the services for ``settings``; every dependency can be replaced."""
    table = Table(settings.table_name, settings.region, settings.dynamodb_endpoint)
    users = UserRepository(table, clock)
    apps = AppDirectory(AppRepository(table), settings, clock)
    tokens = TokenService(
        keys or provider_from_settings(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=settings.access_token_ttl,
        clock=clock,
        ids=ids,
    )
    sessions = SessionService(
        SessionRepository(table),
        tokens,
        refresh_ttl=settings.refresh_token_ttl,
        reuse_memory=settings.refresh_reuse_memory,
        clock=clock,
        ids=ids,
    )
    accounts = AccountService(
        users,
        apps,
        sessions,
        BcryptHasher(settings.bcrypt_rounds),
        PasswordPolicy(settings.password_min_length),
        clock=clock,
        ids=ids,
    )
    return Services(settings, table, users, apps, tokens, sessions, accounts)


_services: Services | None = None


def get_services() -> Services:
    """The services of this container, built on first use."""
    global _services
    if _services is None:
        _services = build_services(get_settings())
    return _services


def get_session_service() -> SessionService:
    """The session service alone (what the authorizer needs)."""
    return get_services().sessions


def override(services: Services | None) -> None:
    """Replace (or with None, forget) the container's services: tests and local mode use it."""
    global _services
    _services = services
