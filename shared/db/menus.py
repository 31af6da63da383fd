"""Menus of an app: ``APP#<app>`` / ``MENU#<menu_id>`` items; a tree is built in memory from one Query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock, system_clock
from shared.db import keys
from shared.db.cache import TtlCache
from shared.db.models import MenuItem
from shared.db.table import Table, conditionally


@dataclass
class Menu:
    menu_id: str
    app_name: str
    menu_name: str
    parent_id: str | None = None
    menu_code: str | None = None
    menu_type: int = 2  # 1 directory, 2 page, 3 button
    path: str | None = None
    permission: str | None = None
    sort: int = 0
    status: str = "active"
    extra: dict[str, Any] = field(default_factory=dict)


def to_menu(item: MenuItem) -> Menu:
    return Menu(
        menu_id=item.menu_id,
        app_name=item.app_name,
        menu_name=item.menu_name,
        parent_id=item.parent_id,
        menu_code=item.menu_code,
        menu_type=int(item.menu_type),
        path=item.path,
        permission=item.permission,
        sort=int(item.sort or 0),
        status=item.status,
        extra=dict(item.extra or {}),
    )


class MenuRepository:
    def __init__(self, table: Table, clock: Clock = system_clock, cache_seconds: float = 5.0) -> None:
        self.table = table
        self._cache: TtlCache[list[Menu]] = TtlCache(clock, cache_seconds)

    def list_menus(self, app_name: str, cached: bool = False) -> list[Menu]:
        """An app's menus (one Query of ``APP#<app>``). ``cached``: what this container read less than
        ``cache_seconds`` ago (every signed-in page asks for its menu tree: menus are its layout, not
        rights, so seconds of delay are harmless, and the app's partition is not read by every request);
        a change made by this container is seen at once."""

        def load() -> list[Menu]:
            return [
                to_menu(item)
                for item in MenuItem.query(keys.app_pk(app_name), MenuItem.sk.startswith("MENU#"))
                if isinstance(item, MenuItem)
            ]

        return self._cache.get(app_name, load, fresh=not cached)

    def put(self, menu: Menu, create: bool) -> bool:
        """Create (False when the id exists) or replace (False when it does not) a menu."""
        self._cache.drop(menu.app_name)
        item = MenuItem(
            pk=keys.app_pk(menu.app_name),
            sk=keys.menu_sk(menu.menu_id),
            menu_id=menu.menu_id,
            app_name=menu.app_name,
            menu_name=menu.menu_name,
            parent_id=menu.parent_id,
            menu_code=menu.menu_code,
            menu_type=menu.menu_type,
            path=menu.path,
            permission=menu.permission,
            sort=menu.sort,
            status=menu.status,
            extra=menu.extra or None,
        )
        condition = MenuItem.pk.does_not_exist() if create else MenuItem.pk.exists()
        return conditionally(lambda: item.save(condition=condition))

    def delete(self, app_name: str, menu_id: str) -> bool:
        self._cache.drop(app_name)
        return conditionally(
            lambda: MenuItem(pk=keys.app_pk(app_name), sk=keys.menu_sk(menu_id)).delete(condition=MenuItem.pk.exists())
        )
