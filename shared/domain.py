"""Plain domain records passed between repositories and services (no PynamoDB, no API Gateway)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class User:
    user_id: str
    username: str | None = None
    nickname: str | None = None
    real_name: str | None = None
    email: str | None = None
    phone: str | None = None
    avatar: str | None = None
    gender: str | None = None
    birthday: str | None = None
    status: str = "active"
    union_id: str | None = None
    referer_id: str | None = None
    department_id: str | None = None
    password_hash: str | None = None
    created_at: float = 0.0
    last_login_at: float | None = None
    email_verified: bool = False  # proven by a code (or set by an admin of app0); API.md section 7
    phone_verified: bool = False


@dataclass
class Account:
    provider: str
    open_id: str
    account_type: str | None = None
    app_id: str | None = None
    nickname: str | None = None
    avatar_url: str | None = None
    created_at: float = 0.0


@dataclass
class RoleGrant:
    """A role a user holds, with what its definition says now (name, permissions when active)."""

    app_name: str
    role_code: str
    role_id: str
    role_name: str
    permissions: list[str] = field(default_factory=list)
    epoch: str = ""


@dataclass(frozen=True)
class RoleDef:
    """What one role grants (an entry of the app's role definitions)."""

    code: str
    epoch: str
    name: str
    permissions: tuple[str, ...] = ()
    status: str = "active"


@dataclass
class RoleDefs:
    """Every role of one app, as the authorizer and sign-in read them (one item, versioned)."""

    app_name: str
    defs: dict[str, RoleDef] = field(default_factory=dict)
    version: int = 0

    def grants(self, held: dict[str, str]) -> list[RoleGrant]:
        """The grants of ``held`` (``{code: epoch}``) that still exist; a disabled role grants nothing."""
        grants = []
        for code in sorted(held):
            role = self.defs.get(code)
            if role is None or role.epoch != held[code]:
                continue  # deleted (or deleted and made again): the old grant is gone
            permissions = list(role.permissions) if role.status == "active" else []
            grants.append(RoleGrant(self.app_name, code, f"{self.app_name}:{code}", role.name, permissions, role.epoch))
        return grants


@dataclass
class MfaState:
    """The user's second factor (API.md section 12): the TOTP secret sealed (never in clear at rest), the
    last accepted time step (a code is accepted once), the SHA-256 of the unused recovery codes, and a
    version every change of these bumps (their writes are conditional on it)."""

    totp_secret: str | None = None  # sealed by shared.services.secret_box
    totp_pending: str | None = None  # a secret set up and not confirmed yet (sealed)
    totp_pending_at: float | None = None
    totp_step: int = 0
    recovery_codes: list[str] = field(default_factory=list)
    version: int = 0

    @property
    def enabled(self) -> bool:
        return self.totp_secret is not None


@dataclass
class UserRecord:
    """The user item: profile, accounts, role grants of every app, sessions, and its two counters.

    ``roles`` is what the user holds (``{app: {code: epoch}}``); ``grants`` are those resolved against
    the role definitions of the apps that were read (see ``UserRepository.load``).
    """

    user: User
    accounts: list[Account] = field(default_factory=list)
    grants: list[RoleGrant] = field(default_factory=list)
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # session id -> created_at
    has_session_map: bool = True  # False for a user item written before the map existed
    rev: int = 0
    ver: int = 0
    login_fails: int = 0
    login_window: float | None = None
    mfa: MfaState = field(default_factory=MfaState)

    def grants_in(self, app_name: str) -> list[RoleGrant]:
        return [g for g in self.grants if g.app_name == app_name]

    def holds_in(self, app_name: str) -> bool:
        """True when the user holds any role of the app (resolved or not)."""
        return bool(self.roles.get(app_name))


@dataclass
class Role:
    role_id: str
    app_name: str
    role_code: str
    role_name: str
    permissions: list[str] = field(default_factory=list)
    menu_ids: list[str] = field(default_factory=list)
    status: str = "active"
    epoch: str = ""

    def definition(self) -> RoleDef:
        return RoleDef(self.role_code, self.epoch, self.role_name, tuple(self.permissions), self.status)


@dataclass
class AppConfig:
    app_name: str
    display_name: str | None = None
    default_role: str | None = None
    allowed_callback_origins: list[str] = field(default_factory=list)
    require_captcha: bool = False
    require_email_verification: bool = False
    require_phone_verification: bool = False
    require_mfa: str = "none"  # none | admins (holders of any system:* permission here) | all
    wechat: dict[str, Any] = field(default_factory=dict)
    # The app as an OpenID Connect client of the sign-in center (``client_id`` is ``app_name``).
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    client_type: str = "public"  # public: PKCE, no secret; confidential: PKCE and a secret
    client_secret_hash: str | None = None  # SHA-256 of the secret (256 random bits); never answered
    issued_client_secret: str | None = None  # the secret just issued: answered once, never stored


@dataclass
class Session:
    """One sign-in. ``roles``/``permissions`` are not stored: they are what the session grants now,
    filled in from the user item and the app's role definitions when the session is opened or checked."""

    session_id: str
    user_id: str
    app_name: str
    roles: list[str]
    permissions: list[str]
    refresh_hash: str
    created_at: float
    last_used_at: float
    expires_at: float
    max_expires_at: float | None = None
    generation: int = 0
    previous_hashes: list[str] = field(default_factory=list)
    ip: str | None = None
    user_agent: str | None = None
    rev: int = 0
    successor_box: str = ""
    prev_hash: str | None = None
    rotated_at: float | None = None
    scope: list[str] = field(default_factory=list)  # OpenID scopes granted (sign-in center sessions)

    def effective_expiry(self) -> float:
        """When the session really ends: its sliding expiry, capped by its absolute lifetime."""
        if self.max_expires_at is None:
            return self.expires_at
        return min(self.expires_at, self.max_expires_at)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: ``next_cursor`` continues it (None on the last page); ``page`` is set when
    the page was asked by number, ``total`` when the whole list was counted."""

    items: list[T]
    page_size: int
    next_cursor: str | None
    page: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, recorded on sessions and audit events."""

    ip: str | None = None
    user_agent: str | None = None
