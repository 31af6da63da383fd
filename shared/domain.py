"""Plain domain records passed between repositories and services (no PynamoDB, no API Gateway)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    """A role a user holds, with the role's display name and permissions copied in."""

    app_name: str
    role_code: str
    role_id: str
    role_name: str
    permissions: list[str] = field(default_factory=list)


@dataclass
class UserRecord:
    """Everything in a user's partition: profile, accounts and role grants of every app."""

    user: User
    accounts: list[Account] = field(default_factory=list)
    grants: list[RoleGrant] = field(default_factory=list)

    def grants_in(self, app_name: str) -> list[RoleGrant]:
        return [g for g in self.grants if g.app_name == app_name]


@dataclass
class Role:
    role_id: str
    app_name: str
    role_code: str
    role_name: str
    permissions: list[str] = field(default_factory=list)
    menu_ids: list[str] = field(default_factory=list)
    status: str = "active"


@dataclass
class AppConfig:
    app_name: str
    display_name: str | None = None
    default_role: str | None = None
    allowed_callback_origins: list[str] = field(default_factory=list)
    require_captcha: bool = False
    require_email_verification: bool = False
    require_phone_verification: bool = False
    wechat: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
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

    def effective_expiry(self) -> float:
        """When the session really ends: its sliding expiry, capped by its absolute lifetime."""
        if self.max_expires_at is None:
            return self.expires_at
        return min(self.expires_at, self.max_expires_at)


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, recorded on sessions and audit events."""

    ip: str | None = None
    user_agent: str | None = None
