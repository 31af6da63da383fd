"""Role definitions of an app (API.md section 4, group ``admin``): list, create, read, update, delete,
and the menus a role opens.

A role's name, permissions and status live in one place, the app's role definitions item, which the
authorizer reads with every request: creating, editing, disabling or deleting a role is one transaction
whatever the number of holders, and reaches every holder's next request. A disabled role keeps its
holders but grants no permission. The super-admin role (``admin`` of ``app0``) cannot lose a ``system:*``
permission or be deleted; an app's default role never holds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db.apps import AppRepository, RoleDefsChangedError
from shared.domain import Page, Role
from shared.errors import AppError, NotFoundError, ServiceUnavailableError, ValidationError
from shared.services.apps import AppDirectory, check_role_code
from shared.services.catalog import SUPER_ADMIN_APP, SUPER_ADMIN_ROLE, SYSTEM_PERMISSIONS, admin_permissions, role_id

if TYPE_CHECKING:
    from shared.schemas import RoleBody


MAX_PAGE_SIZE = 100
T = TypeVar("T")
ATTEMPTS = 3

RoleGuard = Callable[[Role, Role], None]


class RoleExistsError(AppError):
    code, status = "ROLE_EXISTS", 409
    message_zh, message_en = "角色已存在", "Role already exists"


class RoleInUseError(AppError):
    code, status = "ROLE_IN_USE", 409
    message_zh, message_en = "角色仍被用户使用", "Role is still assigned"


def split_role_id(value: str) -> tuple[str, str]:
    app_name, sep, code = value.partition(":")
    if not sep or not app_name or not code:
        raise NotFoundError()
    return app_name, code


def paginate(items: list[T], page: int, page_size: int) -> Page[T]:
    """Page ``page`` of a list held whole (the roles of one app are one item)."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [f"1 to {MAX_PAGE_SIZE}"], "page": ["1 or more"]})
    start = (page - 1) * page_size
    next_cursor = str(page + 1) if start + page_size < len(items) else None
    return Page(items[start : start + page_size], page_size, next_cursor, page=page, total=len(items))


class RoleAdmin:
    def __init__(
        self,
        apps: AppDirectory,
        repository: AppRepository,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.apps = apps
        self.repository = repository
        self.clock = clock
        self.ids = ids

    def get(self, value: str) -> Role:
        app_name, code = split_role_id(value)
        role = self.repository.get_role(app_name, code)
        if role is None:
            raise NotFoundError()
        return role

    def list_roles(self, app_name: str, filters: dict[str, str], page: int, page_size: int) -> Page[Role]:
        roles = self.repository.list_roles(self.apps.resolve(app_name))
        if filters.get("role_code"):
            roles = [r for r in roles if r.role_code == filters["role_code"]]
        if filters.get("role_name"):
            roles = [r for r in roles if filters["role_name"] in r.role_name]
        if filters.get("status"):
            roles = [r for r in roles if r.status == filters["status"]]
        return paginate(sorted(roles, key=lambda r: r.role_code), page, page_size)

    def create(self, command: RoleBody) -> Role:
        """Raises: RoleExistsError, NotFoundError (no such app), ValidationError."""
        fields = command.changes()
        app_name = self.apps.resolve(fields.get("app_name"))
        self.apps.get(app_name)
        code = check_role_code(str(fields.get("role_code") or ""))
        role = Role(
            role_id=role_id(app_name, code),
            app_name=app_name,
            role_code=code,
            role_name=str(fields.get("role_name") or code),
            permissions=sorted(set(fields.get("permissions") or [])),
            menu_ids=list(dict.fromkeys(fields.get("menu_ids") or [])),
            status=str(fields.get("status") or "active"),
            epoch=self.ids()[:8],
        )
        self._check(role)
        for _ in range(ATTEMPTS):
            defs = self.apps.defs_of(app_name)
            if self.repository.get_role(app_name, code) is not None:
                raise RoleExistsError()
            try:
                self.repository.write_role(role, defs, self.clock())
                return role
            except RoleDefsChangedError:
                continue
        raise ServiceUnavailableError()

    def update(self, value: str, change: RoleBody, guard: RoleGuard | None = None) -> Role:
        """Change a role: one transaction (the role and the app's role definitions), whatever the number
        of holders; every holder's next request is authorized with the new definition.

        ``guard(before, after)`` may refuse the edit by raising; the role is saved only if its
        permissions and status are still those the guard saw (a concurrent edit makes this one start
        over).

        Raises:
            NotFoundError: no such role.
            ValidationError: bad fields, or the edit breaks a rule of the super-admin or default role.
            ServiceUnavailableError: the role kept changing underneath.
        """
        for _ in range(ATTEMPTS):
            role = self.get(value)
            updated = replace(role, **self._changes(change.changes()))
            if not updated.epoch:  # a role recorded before definitions existed
                updated.epoch = self.ids()[:8]
            self._check(updated)
            if guard is not None:
                guard(role, updated)
            if updated == role:
                return updated
            try:
                self.repository.write_role(updated, self.apps.defs_of(role.app_name), self.clock(), expected=role)
            except RoleDefsChangedError:
                continue  # edited meanwhile: check again against what is stored now
            return updated
        raise ServiceUnavailableError()

    @staticmethod
    def _changes(fields: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if fields.get("role_name"):
            changes["role_name"] = str(fields["role_name"])
        if fields.get("permissions") is not None:
            changes["permissions"] = sorted(set(fields["permissions"]))
        if fields.get("menu_ids") is not None:
            changes["menu_ids"] = list(dict.fromkeys(fields["menu_ids"]))
        if fields.get("status"):
            changes["status"] = str(fields["status"])
        return changes

    def delete(self, value: str, force: bool) -> bool:
        """Delete a role. One still held needs ``force``; its holders' grants then name a role
        incarnation that no longer exists and grant nothing (a role made again with the same code is a
        new incarnation). Costs the same whatever the number of holders: "in use" reads one holder.
        Returns whether it was held.

        Raises:
            RoleInUseError: held, and not ``force``.
        """
        for _ in range(ATTEMPTS):
            role = self.get(value)
            if (role.app_name, role.role_code) == (SUPER_ADMIN_APP, SUPER_ADMIN_ROLE):
                raise ValidationError({"role_id": ["the super-admin role cannot be deleted"]})
            held = bool(role.epoch) and self.repository.role_in_use(role.app_name, role.role_code, role.epoch)
            if held and not force:
                raise RoleInUseError()
            try:
                self.repository.delete_role(role, self.apps.defs_of(role.app_name))
            except RoleDefsChangedError:
                continue
            return held
        raise ServiceUnavailableError()

    def holders(self, value: str, limit: int | None = None) -> list[str]:
        role = self.get(value)
        return self.repository.role_members(role.app_name, role.role_code, role.epoch, limit=limit)

    def assign_menus(self, value: str, menu_ids: list[str]) -> Role:
        from shared.schemas import RoleBody

        return self.update(value, RoleBody(menu_ids=menu_ids))

    def _check(self, role: Role) -> None:
        if role.status not in ("active", "disabled"):
            raise ValidationError({"status": ["active or disabled"]})
        if any(not isinstance(p, str) or not p or len(p) > 128 for p in role.permissions):
            raise ValidationError({"permissions": ["permission codes such as system:user:list"]})
        super_admin = (role.app_name, role.role_code) == (SUPER_ADMIN_APP, SUPER_ADMIN_ROLE)
        if super_admin and (not set(SYSTEM_PERMISSIONS) <= set(role.permissions) or role.status != "active"):
            raise ValidationError({"permissions": ["the super-admin role keeps every system:* permission"]})
        if admin_permissions(role.permissions) and role.role_code == self.apps.default_role_of(role.app_name):
            raise ValidationError({"permissions": ["an app's default role cannot hold system:* permissions"]})
