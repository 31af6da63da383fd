"""Menus per app (API.md section 4): list, tree, create, read, update, delete, and the menu tree a
user's roles open in the token's app (``GET /api/auth/user/menus/``, what vue-element-plus-admin builds
its routes from). Trees are built in memory from one Query; a menu's ancestors are always included, so
the tree a user gets is connected."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.clock import IdFactory
from shared.db.apps import AppRepository
from shared.db.menus import Menu, MenuRepository
from shared.errors import NotFoundError, ResourceInUseError, ValidationError
from shared.services.apps import AppDirectory
from shared.services.catalog import SUPER_ADMIN_APP, SUPER_ADMIN_ROLE

if TYPE_CHECKING:
    from shared.schemas import MenuBody


FIELDS = ("menu_name", "parent_id", "menu_code", "menu_type", "path", "permission", "sort", "status")
EXTRA = ("component", "icon", "redirect", "hidden", "title")


class MenuService:
    def __init__(self, menus: MenuRepository, apps: AppDirectory, roles: AppRepository, ids: IdFactory) -> None:
        self.menus = menus
        self.apps = apps
        self.roles = roles
        self.ids = ids

    def list_menus(self, app_name: str) -> list[Menu]:
        """The menus of the app, by ``sort`` then id (the edge nests them into a tree by ``parent_id``)."""
        app = self.apps.resolve(app_name)
        return sorted(self.menus.list_menus(app), key=lambda m: (m.sort, m.menu_id))

    def get(self, app_name: str, menu_id: str) -> Menu:
        found = [m for m in self.menus.list_menus(self.apps.resolve(app_name)) if m.menu_id == menu_id]
        if not found:
            raise NotFoundError()
        return found[0]

    def create(self, app_name: str, command: MenuBody) -> Menu:
        app = self.apps.resolve(app_name)
        fields = command.changes()
        if not fields.get("menu_name"):
            raise ValidationError({"menu_name": ["required"]})
        menu = self._apply(Menu(menu_id=self.ids()[:12], app_name=app, menu_name=""), fields)
        self._check_parent(menu)
        self.menus.put(menu, create=True)
        return menu

    def update(self, app_name: str, menu_id: str, change: MenuBody) -> Menu:
        menu = self._apply(self.get(app_name, menu_id), change.changes())
        self._check_parent(menu)
        if not self.menus.put(menu, create=False):
            raise NotFoundError()
        return menu

    def delete(self, app_name: str, menu_id: str) -> None:
        menu = self.get(app_name, menu_id)
        if any(m.parent_id == menu_id for m in self.menus.list_menus(menu.app_name)):
            raise ResourceInUseError()
        self.menus.delete(menu.app_name, menu_id)

    def for_roles(self, app_name: str, role_codes: list[str]) -> list[Menu]:
        """The active menus the roles open (all of them for the super admin), with their ancestors.

        The menus and which menus each role opens come from the container's short caches (they are the
        page's layout; rights are the permissions the authorizer checks), so the app's partition is not
        read by every request."""
        app = self.apps.resolve(app_name)
        menus = {m.menu_id: m for m in self.menus.list_menus(app, cached=True) if m.status == "active"}
        if app == SUPER_ADMIN_APP and SUPER_ADMIN_ROLE in role_codes:
            wanted = set(menus)
        else:
            roles = {r.role_code: r for r in self.roles.list_roles(app, cached=True) if r.status == "active"}
            wanted = {mid for code in role_codes if code in roles for mid in roles[code].menu_ids}
        for menu_id in list(wanted):
            parent = menus[menu_id].parent_id if menu_id in menus else None
            while parent and parent in menus and parent not in wanted:
                wanted.add(parent)
                parent = menus[parent].parent_id
        return sorted((menus[m] for m in wanted if m in menus), key=lambda m: (m.sort, m.menu_id))

    def _apply(self, menu: Menu, fields: dict[str, Any]) -> Menu:
        changes = {k: fields[k] for k in FIELDS if k in fields and fields[k] is not None}
        if "parent_id" in fields and fields["parent_id"] in ("", "0", 0):
            changes["parent_id"] = None
        if "menu_type" in changes and changes["menu_type"] not in (1, 2, 3):
            raise ValidationError({"menu_type": ["1 directory, 2 page or 3 button"]})
        extra = {**menu.extra, **{k: fields[k] for k in EXTRA if k in fields}}
        return replace(menu, **changes, extra=extra)

    def _check_parent(self, menu: Menu) -> None:
        if not menu.parent_id:
            return
        menus = {m.menu_id: m for m in self.menus.list_menus(menu.app_name)}
        parent: str | None = menu.parent_id
        while parent:
            if parent == menu.menu_id:
                raise ValidationError({"parent_id": ["a menu cannot be its own ancestor"]})
            if parent not in menus:
                raise ValidationError({"parent_id": ["no such menu"]})
            parent = menus[parent].parent_id
