"""Every admin operation of the API (API.md sections 4 and 5), each decided by the admin-scope rule.

The admin function's routes and the compatibility role routes call only this service. Each operation
names what it acts on (a :class:`~shared.services.admin_scope.Target`: the app, the permissions it
grants, the user it touches) and asks :class:`~shared.services.admin_scope.AdminScope` before it
reads or writes anything else; the services behind it (roles, users, menus, departments, apps) are
the unguarded domain, also used by sign-up, bootstrap and tests.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.db.departments import Department
from shared.db.menus import Menu
from shared.domain import AppConfig, ClientInfo, Page, Role, RoleGrant, User, UserRecord
from shared.errors import NotFoundError, PermissionDeniedError
from shared.schemas import (
    AdminUserCreateBody,
    AdminUserUpdateBody,
    AppBody,
    DepartmentBody,
    ImportBody,
    MenuBody,
    RoleBody,
)
from shared.services.accounts import AccountService
from shared.services.admin_scope import AdminScope, Caller, Target, UserAccess, sees_every_user, union
from shared.services.apps import AppDirectory
from shared.services.catalog import builtin_role
from shared.services.departments import DepartmentService
from shared.services.menus import MenuService
from shared.services.mfa import SecondFactors
from shared.services.role_admin import RoleAdmin, split_role_id
from shared.services.roles import RoleService
from shared.services.user_admin import ORG_FIELDS, UserAdmin
from shared.services.user_export import UserExport
from shared.services.user_import import RowResult, UserImport

USER_ROLE = "system:user:role"


class AdminActions:
    def __init__(
        self,
        scope: AdminScope,
        accounts: AccountService,
        apps: AppDirectory,
        roles: RoleService,
        role_admin: RoleAdmin,
        user_admin: UserAdmin,
        menus: MenuService,
        departments: DepartmentService,
        mfa: SecondFactors | None = None,
        importer: UserImport | None = None,
    ) -> None:
        self.mfa = mfa
        self.importer = importer
        self.scope = scope
        self.accounts = accounts
        self.apps = apps
        self.roles = roles
        self.role_admin = role_admin
        self.user_admin = user_admin
        self.menus = menus
        self.departments = departments

    def caller(self, context: dict[str, str]) -> Caller:
        """The acting user, from the authorizer's context (see :meth:`AdminScope.caller`)."""
        return self.scope.caller(context)

    def _app(self, caller: Caller, requested: str | None) -> str:
        return self.apps.resolve(requested or caller.app_name)

    def _role(self, code: str, app_name: str) -> Role:
        """The role, or the built-in one that assigning it would create."""
        return self.apps.role(app_name, code) or builtin_role(app_name, code)

    # -- role grants (compatibility routes and /api/users/assign-roles/) ----------------------------
    def assign_role(self, caller: Caller, user_id: str, app_name: str | None, role_code: str) -> RoleGrant:
        app = self._app(caller, app_name)
        self.scope.check(caller, USER_ROLE, Target(app=app))
        role = self._role(role_code, app)
        user = self.accounts.get(user_id)
        self.scope.check(
            caller, USER_ROLE, Target(app=app, grants=frozenset(role.permissions), user=user, access=UserAccess.GRANT)
        )
        return self.roles.assign(user_id, app, role_code)

    def remove_roles(self, caller: Caller, user_id: str, app_name: str | None, role_codes: list[str]) -> int:
        app = self._app(caller, app_name)
        self.scope.check(caller, USER_ROLE, Target(app=app))
        user = self.accounts.get(user_id)
        self.scope.check(caller, USER_ROLE, Target(app=app, user=user, access=UserAccess.GRANT))
        return self.roles.remove(user_id, app, role_codes)

    def replace_roles(self, caller: Caller, user_id: str, app_name: str | None, codes: list[str]) -> list[RoleGrant]:
        app = self._app(caller, app_name)
        self.scope.check(caller, USER_ROLE, Target(app=app))
        wanted = []
        for code in dict.fromkeys(codes):
            role = self.apps.role(app, code)
            if role is None:
                raise NotFoundError(f"role {code}")
            wanted.append(role)
        user = self.accounts.get(user_id)
        granted = union(*(r.permissions for r in wanted))
        self.scope.check(caller, USER_ROLE, Target(app=app, grants=granted, user=user, access=UserAccess.GRANT))
        return self.roles.replace(user_id, app, list(codes))

    def has_role(self, caller: Caller, app_name: str | None, role_code: str) -> bool:
        """``/api/roles/role-auth/``: does the caller hold the role (asked of the token's app only)?"""
        app = self._app(caller, app_name)
        self.scope.check(caller, None, Target(app=app))
        return self.roles.has_role(caller.user_id, app, role_code)

    # -- users ---------------------------------------------------------------------------------------
    def list_users(self, caller: Caller, app_name: str | None, query: dict[str, str], page_size: int) -> Page[User]:
        app = self._app(caller, app_name)
        self.scope.check(caller, "system:user:list", Target(app=app))
        members_of = None if sees_every_user(caller) else caller.app_name
        return self.user_admin.list_users(app, query, page_size, members_of=members_of)

    def create_user(self, caller: Caller, app_name: str | None, command: AdminUserCreateBody) -> UserRecord:
        app = self._app(caller, app_name)
        self.scope.check(caller, "system:user:add", Target(app=app, org=True))
        return self.user_admin.create(app, command)

    def view_user(self, caller: Caller, user_id: str) -> UserRecord:
        """The user, with the roles the caller may see: every app's for app0's admins, else their app's."""
        user = self.accounts.get(user_id)
        self.scope.check(caller, "system:user:query", Target(app=caller.app_name, user=user))
        return self.seen_by(caller, self.user_admin.view(user_id))

    @staticmethod
    def seen_by(caller: Caller, record: UserRecord) -> UserRecord:
        """``record`` with only the grants ``caller`` may see."""
        if sees_every_user(caller):
            return record
        return replace(record, grants=record.grants_in(caller.app_name))

    def update_user(self, caller: Caller, user_id: str, change: AdminUserUpdateBody) -> UserRecord:
        user = self.accounts.get(user_id)
        org = bool(change.model_fields_set & set(ORG_FIELDS))  # setting one to null counts too
        target = Target(app=caller.app_name, org=org, user=user, access=UserAccess.CHANGE)
        self.scope.check(caller, "system:user:edit", target)
        return self.seen_by(caller, self.user_admin.update(user_id, caller.app_name, change))

    def import_users(self, caller: Caller, body: ImportBody) -> list[RowResult]:
        """Import the replaced systems' users: the super admin only (it creates people in every app).

        Raises:
            PermissionDeniedError: anyone else.
        """
        if not caller.is_super_admin:
            raise PermissionDeniedError("only the super admin imports users")
        if self.importer is None:
            raise NotFoundError()
        return self.importer.run(body.rows, body.on_match, bool(body.dry_run), caller.user_id)

    def export_users(
        self, caller: Caller, limit: int, cursor: str | None, client: ClientInfo
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every user with identifiers, roles and password hash, a page at a time: the super admin only
        (an audit event in their own history says what was exported).

        Raises:
            PermissionDeniedError: anyone else.
        """
        if not caller.is_super_admin:
            raise PermissionDeniedError("only the super admin exports users")
        rows, next_cursor = UserExport(self.accounts.users).page(limit, cursor)
        audit = self.accounts.audit_event("users_exported", self.accounts.clock(), client)
        self.accounts.users.record_event(caller.user_id, {**audit, "detail": {"rows": len(rows)}})
        return rows, next_cursor

    def reset_mfa(self, caller: Caller, user_id: str, client: ClientInfo) -> bool:
        """Turn a user's second factor off (a lost device): it changes a person, so it is managed from
        app0, and never on someone more powerful. False when it was off.

        Raises:
            PermissionDeniedError: the admin scope refuses.
        """
        user = self.accounts.get(user_id)
        self.scope.check(caller, "system:user:edit", Target(org=True, user=user, access=UserAccess.CHANGE))
        if self.mfa is None:
            raise NotFoundError()
        return self.mfa.reset(user_id, caller.user_id, client)

    def delete_user(self, caller: Caller, user_id: str) -> None:
        user = self.accounts.get(user_id)
        self.scope.check(caller, "system:user:remove", Target(org=True, user=user, access=UserAccess.CHANGE))
        self.user_admin.delete(user_id)

    # -- role definitions ----------------------------------------------------------------------------
    def list_roles(
        self, caller: Caller, app_name: str | None, filters: dict[str, str], page: int, page_size: int
    ) -> Page[Role]:
        app = self._app(caller, app_name)
        self.scope.check(caller, "system:role:list", Target(app=app))
        return self.role_admin.list_roles(app, filters, page, page_size)

    def create_role(self, caller: Caller, command: RoleBody) -> Role:
        app = self._app(caller, command.app_name)
        granted = frozenset(command.permissions or [])
        self.scope.check(caller, "system:role:add", Target(app=app, grants=granted))
        return self.role_admin.create(command.model_copy(update={"app_name": app}))

    def get_role(self, caller: Caller, role_id: str, permission: str = "system:role:query") -> Role:
        app, _ = split_role_id(role_id)
        self.scope.check(caller, permission, Target(app=app))
        return self.role_admin.get(role_id)

    def update_role(self, caller: Caller, role_id: str, change: RoleBody, permission: str = "system:role:edit") -> Role:
        """Edit a role: the caller must hold every permission it has before and after the edit."""
        app, _ = split_role_id(role_id)
        self.scope.check(caller, permission, Target(app=app))

        def guard(before: Role, after: Role) -> None:
            granted = union(before.permissions, after.permissions)
            self.scope.check(caller, permission, Target(app=app, grants=granted))

        return self.role_admin.update(role_id, change, guard=guard)

    def delete_role(self, caller: Caller, role_id: str, force: bool) -> bool:
        """Delete a role whose permissions the caller holds (with ``force``, held or not: its holders lose
        only what the caller could have granted them). Returns whether it was held."""
        role = self.get_role(caller, role_id, "system:role:remove")
        self.scope.check(caller, "system:role:remove", Target(app=role.app_name, grants=frozenset(role.permissions)))
        return self.role_admin.delete(role_id, force)

    def assign_menus(self, caller: Caller, role_id: str, menu_ids: list[str]) -> Role:
        return self.update_role(caller, role_id, RoleBody(menu_ids=menu_ids), permission="system:role:menu")

    def role_menus(self, caller: Caller, role_id: str) -> Role:
        return self.get_role(caller, role_id, "system:role:menu")

    # -- menus ---------------------------------------------------------------------------------------
    def _menus_of(self, caller: Caller, app_name: str | None, permission: str) -> str:
        app = self._app(caller, app_name)
        self.scope.check(caller, permission, Target(app=app))
        return app

    def list_menus(self, caller: Caller, app_name: str | None) -> list[Menu]:
        return self.menus.list_menus(self._menus_of(caller, app_name, "system:menu:list"))

    def create_menu(self, caller: Caller, app_name: str | None, command: MenuBody) -> Menu:
        return self.menus.create(self._menus_of(caller, app_name, "system:menu:add"), command)

    def get_menu(self, caller: Caller, app_name: str | None, menu_id: str) -> Menu:
        return self.menus.get(self._menus_of(caller, app_name, "system:menu:query"), menu_id)

    def update_menu(self, caller: Caller, app_name: str | None, menu_id: str, change: MenuBody) -> Menu:
        return self.menus.update(self._menus_of(caller, app_name, "system:menu:edit"), menu_id, change)

    def delete_menu(self, caller: Caller, app_name: str | None, menu_id: str) -> None:
        self.menus.delete(self._menus_of(caller, app_name, "system:menu:remove"), menu_id)

    # -- departments (the organisation's) ------------------------------------------------------------
    def _org(self, caller: Caller, permission: str) -> None:
        self.scope.check(caller, permission, Target(org=True))

    def list_departments(self, caller: Caller) -> list[Department]:
        self._org(caller, "system:dept:list")
        return self.departments.list_departments()

    def create_department(self, caller: Caller, command: DepartmentBody) -> Department:
        self._org(caller, "system:dept:add")
        return self.departments.create(command)

    def get_department(self, caller: Caller, dept_id: str) -> Department:
        self._org(caller, "system:dept:query")
        return self.departments.get(dept_id)

    def update_department(self, caller: Caller, dept_id: str, change: DepartmentBody) -> Department:
        self._org(caller, "system:dept:edit")
        return self.departments.update(dept_id, change)

    def delete_department(self, caller: Caller, dept_id: str) -> None:
        self._org(caller, "system:dept:remove")
        self.departments.delete(dept_id)

    # -- apps ----------------------------------------------------------------------------------------
    def list_apps(self, caller: Caller) -> list[AppConfig]:
        """Every app for the super admin; an app's own admins see their app."""
        self.scope.check(caller, "system:app:manage", Target(app=caller.app_name))
        apps = self.apps.list()
        return apps if caller.is_super_admin else [a for a in apps if a.app_name == caller.app_name]

    def create_app(self, caller: Caller, command: AppBody) -> AppConfig:
        """A new app is outside every app's scope but the super admin's."""
        app = self.apps.resolve(command.app_name or "")
        self.scope.check(caller, "system:app:manage", Target(app=app))
        return self.apps.create(command.model_copy(update={"app_name": app}))

    def update_app(self, caller: Caller, app_name: str, change: AppBody) -> AppConfig:
        app = self.apps.resolve(app_name)
        self.scope.check(caller, "system:app:manage", Target(app=app))
        return self.apps.update(app, change)
