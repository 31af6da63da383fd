"""Apps and their roles: ``APP#<app>`` holds ``META`` (settings) and ``ROLE#<code>`` items.

Access patterns: read an app's settings together with one role (one BatchGetItem), create a role only
if it is missing (conditional put), read a role.
"""

from __future__ import annotations

from pynamodb.exceptions import PutError

from shared.db import keys
from shared.db.models import AppItem, BaseItem, RoleItem
from shared.db.table import Table, is_condition_failure
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
        try:
            item.save(condition=RoleItem.pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
