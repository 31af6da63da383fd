"""Apps and their roles: ``APP#<app>`` holds ``META`` (settings) and ``ROLE#<code>`` items.

Access patterns: read an app's settings together with one role (one BatchGetItem), create a role only
if it is missing (conditional put), read a role, list the apps (GSI1, ``GSI1PK=APPS``), create an app
(conditional put) and update one (conditional update).
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action

from shared.db import keys
from shared.db.models import AppItem, BaseItem, RoleItem, UserRoleItem
from shared.db.table import Table, conditionally
from shared.domain import AppConfig, Role


def to_app(item: AppItem) -> AppConfig:
    return AppConfig(
        app_name=item.app_name,
        display_name=item.display_name,
        default_role=item.default_role,
        allowed_callback_origins=list(item.allowed_callback_origins or []),
        require_captcha=bool(item.require_captcha),
        require_email_verification=bool(item.require_email_verification),
        require_phone_verification=bool(item.require_phone_verification),
        wechat=dict(item.wechat or {}),
    )


def to_role(item: RoleItem) -> Role:
    return Role(
        role_id=item.role_id,
        app_name=item.app_name,
        role_code=item.role_code,
        role_name=item.role_name,
        permissions=list(item.permissions or []),
        menu_ids=list(item.menu_ids or []),
        status=item.status,
    )


class AppRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get_app_and_role(self, app_name: str, role_code: str | None) -> tuple[AppConfig | None, Role | None]:
        """The app's settings and one of its roles, in one BatchGetItem."""
        wanted = [(keys.app_pk(app_name), keys.META)]
        if role_code:
            wanted.append((keys.app_pk(app_name), keys.role_sk(role_code)))
        app: AppConfig | None = None
        role: Role | None = None
        for item in BaseItem.batch_get(wanted):
            if isinstance(item, AppItem):
                app = to_app(item)
            elif isinstance(item, RoleItem):
                role = to_role(item)
        return app, role

    def get_role(self, app_name: str, role_code: str) -> Role | None:
        return self.get_app_and_role(app_name, role_code)[1]

    def create_role_if_missing(self, role: Role, now: float) -> bool:
        """Put the role unless one with its code exists; True when this call created it."""
        item = RoleItem(
            pk=keys.app_pk(role.app_name),
            sk=keys.role_sk(role.role_code),
            role_id=role.role_id,
            app_name=role.app_name,
            role_code=role.role_code,
            role_name=role.role_name,
            permissions=list(role.permissions),
            menu_ids=list(role.menu_ids),
            status=role.status,
            created_at=int(now),
        )
        return conditionally(lambda: item.save(condition=RoleItem.pk.does_not_exist()))

    def list_roles(self, app_name: str) -> list[Role]:
        """Every role of an app (one Query on ``APP#<app>``, ``SK`` beginning with ``ROLE#``)."""
        return [
            to_role(item)
            for item in RoleItem.query(keys.app_pk(app_name), RoleItem.sk.startswith("ROLE#"))
            if isinstance(item, RoleItem)
        ]

    def save_role(self, role: Role, expected_permissions: list[str] | None = None) -> bool:
        """Replace a role's display name, permissions, menus and status (the role must exist).

        With ``expected_permissions``, only while the stored permissions are those; False otherwise.
        """
        condition = RoleItem.pk.exists()
        if expected_permissions is not None:
            same = RoleItem.permissions == list(expected_permissions)
            if not expected_permissions:
                same = same | RoleItem.permissions.does_not_exist()
            condition = condition & same
        item = RoleItem(pk=keys.app_pk(role.app_name), sk=keys.role_sk(role.role_code))
        actions: list[Action] = [
            RoleItem.role_name.set(role.role_name),
            RoleItem.permissions.set(list(role.permissions)),
            RoleItem.menu_ids.set(list(role.menu_ids)),
            RoleItem.status.set(role.status),
        ]
        return conditionally(lambda: item.update(actions=actions, condition=condition))

    def delete_role(self, app_name: str, role_code: str) -> None:
        RoleItem(pk=keys.app_pk(app_name), sk=keys.role_sk(role_code)).delete()

    def role_members(self, app_name: str, role_code: str) -> list[str]:
        """User ids holding a role (GSI1 ``ROLE#<app>#<code>``)."""
        return [
            str(item.user_id)
            for item in UserRoleItem.gsi1.query(keys.role_members_gsi1pk(app_name, role_code))
            if isinstance(item, UserRoleItem)
        ]

    def app_members(self, app_name: str) -> list[str]:
        """User ids holding any role of an app (one GSI1 Query per role of the app)."""
        members: dict[str, None] = {}
        for role in self.list_roles(app_name):
            members.update(dict.fromkeys(self.role_members(app_name, role.role_code)))
        return list(members)

    def list_apps(self) -> list[AppConfig]:
        return [to_app(item) for item in AppItem.gsi1.query(APPS) if isinstance(item, AppItem)]

    def create_app(self, app: AppConfig, now: float) -> bool:
        """Put a new app; False when one with its name exists."""
        item = AppItem(
            pk=keys.app_pk(app.app_name),
            sk=keys.META,
            gsi1pk=APPS,
            gsi1sk=app.app_name,
            app_name=app.app_name,
            created_at=int(now),
            **app_fields(app),
        )
        return conditionally(lambda: item.save(condition=AppItem.pk.does_not_exist()))

    def update_app(self, app: AppConfig) -> bool:
        """Replace an app's settings; False when there is no such app."""
        item = AppItem(pk=keys.app_pk(app.app_name), sk=keys.META)
        actions = [
            getattr(AppItem, name).set(value) if value is not None else getattr(AppItem, name).remove()
            for name, value in app_fields(app).items()
        ]
        return conditionally(lambda: item.update(actions=actions, condition=AppItem.pk.exists()))


APPS = "APPS"


def app_fields(app: AppConfig) -> dict[str, Any]:
    return {
        "display_name": app.display_name,
        "default_role": app.default_role,
        "allowed_callback_origins": list(app.allowed_callback_origins),
        "require_captcha": app.require_captcha,
        "require_email_verification": app.require_email_verification,
        "require_phone_verification": app.require_phone_verification,
        "wechat": dict(app.wechat) if app.wechat else None,
    }
