"""Admin scope (API.md section 4, "Admin scope"): who may act on which app and which user.

This module is the one rule. Every admin operation (``shared.services.admin``) describes what it acts
on as a :class:`Target` and asks :func:`decide` before it runs; nothing else decides. The rule:

* A token carries the permissions of one app. The request's target app must be the token's app;
  organisation resources (users' identifiers, passwords and status, creating and deleting users,
  departments) are managed from ``app0``. Only the super admin (role ``admin`` of ``app0``, signed in
  to ``app0``) acts in every app.
* Nobody grants more than they hold: every permission a request grants or defines (a role assigned,
  created, or edited, before and after the edit) must be one the caller holds in that app.
* Nobody changes someone more powerful: a user who holds any permission (in any app) that the caller
  lacks, or who is a super admin, can be changed only by the super admin.
* Admins of an app other than ``app0`` see only users who hold a role in their app.

The caller's permissions are those of the token *and* of the live grants (the smaller set): a right
taken away an instant ago no longer counts, even inside the authorizer's cache time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from shared.db.users import UserRepository
from shared.domain import UserRecord
from shared.errors import PermissionDeniedError, UnauthorizedError
from shared.observability import logger
from shared.services.catalog import SUPER_ADMIN_APP, SUPER_ADMIN_ROLE
from shared.services.sessions import authorization_of

ORG_APP = SUPER_ADMIN_APP  # the app whose admins manage the organisation's users and departments


class UserAccess(Enum):
    """How a request touches a user."""

    READ = "read"  # list or read: app admins see only their app's members
    CHANGE = "change"  # profile, identifiers, password, status, deletion: members only, power ceiling
    GRANT = "grant"  # role assignment or removal in the target app: power ceiling (members or not)


@dataclass(frozen=True)
class Caller:
    """Who is acting: the token's app and what the caller holds there (token ∩ live grants)."""

    user_id: str
    app_name: str
    roles: frozenset[str]
    permissions: frozenset[str]

    @property
    def is_super_admin(self) -> bool:
        return self.app_name == SUPER_ADMIN_APP and SUPER_ADMIN_ROLE in self.roles


@dataclass(frozen=True)
class Target:
    """What one admin request acts on.

    Attributes:
        app: the app the request acts in (the ``app_name`` sent, or the app of the role, menu or grant).
        org: the request manages the organisation (users' identifiers and status, departments).
        grants: permissions the request grants or defines (all of them, before and after an edit).
        user: the user acted on, with every grant in every app.
        access: how ``user`` is touched.
    """

    app: str | None = None
    org: bool = False
    grants: frozenset[str] = frozenset()
    user: UserRecord | None = None
    access: UserAccess = UserAccess.READ


def permissions_of(record: UserRecord) -> frozenset[str]:
    """Every permission a user holds, in any app."""
    return frozenset(p for g in record.grants for p in g.permissions)


def is_super_admin(record: UserRecord) -> bool:
    return any((g.app_name, g.role_code) == (SUPER_ADMIN_APP, SUPER_ADMIN_ROLE) for g in record.grants)


def sees_every_user(caller: Caller) -> bool:
    """Admins of ``app0`` (and the super admin) see the whole organisation; others their app's members."""
    return caller.app_name == ORG_APP or caller.is_super_admin


def decide(caller: Caller, permission: str | None, target: Target) -> str | None:
    """``None`` when ``caller`` may do this, else why not (for the log; the client sees 403).

    ``permission`` is what the route needs in the token's app (``None`` for a signed-in user's route).
    """
    if permission is not None and permission not in caller.permissions:
        return f"{permission} is not held in {caller.app_name}"
    if caller.is_super_admin:
        return None
    if target.org and caller.app_name != ORG_APP:
        return f"users and departments are managed from {ORG_APP}"
    if target.app is not None and target.app != caller.app_name:
        return f"acts in {target.app}, the token is for {caller.app_name}"
    beyond = target.grants - caller.permissions
    if beyond:
        return f"grants what the caller does not hold: {sorted(beyond)}"
    user = target.user
    if user is None or (user.user.user_id == caller.user_id and target.access is UserAccess.READ):
        return None
    member = bool(user.grants_in(caller.app_name))
    if target.access is not UserAccess.GRANT and caller.app_name != ORG_APP and not member:
        return f"the user holds no role in {caller.app_name}"
    if target.access is UserAccess.READ:
        return None
    if is_super_admin(user):
        return "only the super admin changes a super admin"
    stronger = permissions_of(user) - caller.permissions
    if stronger:
        return f"the user holds permissions the caller lacks: {sorted(stronger)}"
    return None


class AdminScope:
    """Builds the :class:`Caller` of a request and applies :func:`decide`."""

    def __init__(self, users: UserRepository) -> None:
        self.users = users

    def caller(self, context: Mapping[str, str]) -> Caller:
        """The caller from the authorizer's context, narrowed to the grants they hold now.

        Raises:
            UnauthorizedError: no caller in the context.
            PermissionDeniedError: the caller no longer exists or is disabled.
        """
        user_id, app_name = context.get("user_id"), context.get("app_name")
        if not user_id or not app_name:
            raise UnauthorizedError()
        record = self.users.load(user_id, apps=[app_name])
        if record is None or record.user.status != "active":
            raise PermissionDeniedError()
        roles, permissions = authorization_of(record.grants_in(app_name))
        return Caller(
            user_id=user_id,
            app_name=app_name,
            roles=frozenset(roles) & _split(context.get("roles")),
            permissions=frozenset(permissions) & _split(context.get("permissions")),
        )

    def check(self, caller: Caller, permission: str | None, target: Target) -> None:
        """Raises: PermissionDeniedError: the rule refuses (the reason is logged, not returned)."""
        reason = decide(caller, permission, target)
        if reason is not None:
            logger.warning("admin scope refused", extra={"caller": caller.user_id, "reason": reason})
            raise PermissionDeniedError(reason)


def _split(value: str | None) -> frozenset[str]:
    return frozenset(part for part in (value or "").split(",") if part)


def union(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(p for group in groups for p in group)
