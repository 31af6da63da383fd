"""Apps and their roles: ``APP#<app>`` holds ``META`` (settings), ``ROLES`` (what every role grants) and
``ROLE#<code>`` items (the admin's record of each role, with its menus); ``ROLES#<app>#<n>`` are copies
of ``ROLES`` that requests read (``keys.role_defs_copy``), so no single partition serves every request.

Access patterns: read an app's settings (cached per container for ``SETTINGS_SECONDS``) and a copy of its
role definitions, write a role with its definition and every copy (one transaction, conditioned on the
definitions' version), find one holder of a role or page through them (GSI1, sharded), list the apps
(GSI1, ``GSI1PK=APPS``), create and update an app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action

from shared.clock import Clock, system_clock
from shared.db import keys
from shared.db.cache import TtlCache
from shared.db.models import AppItem, BaseItem, RoleDefsItem, RoleItem, UserRoleItem
from shared.db.pages import Part, key_value, merge, one_page
from shared.db.table import Table, conditionally, failed_indexes, is_conflict
from shared.domain import AppConfig, Role, RoleDef, RoleDefs


def to_app(item: AppItem) -> AppConfig:
    return AppConfig(
        app_name=item.app_name,
        display_name=item.display_name,
        default_role=item.default_role,
        allowed_callback_origins=list(item.allowed_callback_origins or []),
        require_captcha=bool(item.require_captcha),
        require_email_verification=bool(item.require_email_verification),
        require_phone_verification=bool(item.require_phone_verification),
        require_mfa=item.require_mfa or "none",
        wechat=dict(item.wechat or {}),
        redirect_uris=list(item.redirect_uris or []),
        post_logout_redirect_uris=list(item.post_logout_redirect_uris or []),
        backchannel_logout_uri=item.backchannel_logout_uri,
        client_type=item.client_type or "public",
        client_secret_hash=item.client_secret_hash,
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
        epoch=item.epoch or "",
    )


def to_defs(app_name: str, item: RoleDefsItem | None) -> RoleDefs:
    if item is None:
        return RoleDefs(app_name)
    defs = {
        code: RoleDef(
            code, str(d.get("e", "")), str(d.get("n", code)), tuple(d.get("p") or ()), str(d.get("s", "active"))
        )
        for code, d in (item.defs or {}).items()
    }
    return RoleDefs(app_name, defs, int(item.version or 0))


def _defs_json(defs: dict[str, RoleDef]) -> dict[str, Any]:
    return {c: {"e": d.epoch, "n": d.name, "p": list(d.permissions), "s": d.status} for c, d in defs.items()}


class RoleDefsChangedError(Exception):
    """The app's role definitions (or the role) changed meanwhile; nothing was written."""


SETTINGS_SECONDS = 5.0  # how long a container serves an app's settings without reading them again


def complete_defs(
    app_names: Iterable[str], found: dict[str, RoleDefsItem], consistent: bool = False
) -> dict[str, RoleDefs]:
    """The role definitions of ``app_names`` from the copies a request read (``found``); an app whose copy
    is missing (data written before copies existed, until ``shared.migrations`` runs) is read from its
    primary item, and one without roles has empty definitions."""
    wanted = [a for a in dict.fromkeys(app_names) if a not in found]
    if wanted:
        primaries = BaseItem.batch_get([(keys.app_pk(a), keys.ROLES) for a in wanted], consistent_read=consistent)
        found = {**found, **{i.app_name: i for i in primaries if isinstance(i, RoleDefsItem)}}
    return {a: to_defs(a, found.get(a)) for a in app_names}


def read_role_defs(app_names: list[str], reader: str | None, consistent: bool = False) -> dict[str, RoleDefs]:
    """Role definitions as requests read them: the copies of ``reader`` (one BatchGetItem)."""
    wanted = [keys.role_defs_copy(a, reader) for a in dict.fromkeys(app_names)]
    items = BaseItem.batch_get(wanted, consistent_read=consistent) if wanted else []
    found = {i.app_name: i for i in items if isinstance(i, RoleDefsItem)}
    return complete_defs(app_names, found, consistent)


class AppRepository:
    def __init__(self, table: Table, clock: Clock = system_clock, settings_seconds: float = SETTINGS_SECONDS) -> None:
        self.table = table
        self._settings: TtlCache[AppConfig | None] = TtlCache(clock, settings_seconds)
        self._roles: TtlCache[list[Role]] = TtlCache(clock, settings_seconds)

    def get_app(self, app_name: str, fresh: bool = False) -> AppConfig | None:
        """An app's settings. Every sign-up and sign-in needs them, so a container keeps what it read for
        ``settings_seconds`` (a change reaches every container within that time; the container that
        made it at once); ``fresh`` reads the item (admin reads and writes)."""

        def load() -> AppConfig | None:
            try:
                return to_app(AppItem.get(keys.app_pk(app_name), keys.META))
            except DoesNotExist:
                return None

        return self._settings.get(app_name, load, fresh)

    def get_app_and_defs(self, app_name: str, reader: str | None = None) -> tuple[AppConfig | None, RoleDefs]:
        """The app's settings (cached) and a copy of its role definitions."""
        return self.get_app(app_name), self.read_defs([app_name], reader)[app_name]

    def read_defs(self, app_names: list[str], reader: str | None, consistent: bool = False) -> dict[str, RoleDefs]:
        return read_role_defs(app_names, reader, consistent)

    def get_defs(self, app_names: list[str]) -> dict[str, RoleDefs]:
        """Role definitions of several apps from their primary items (one BatchGetItem), as writers need
        them (the version their write is conditioned on); an app without roles has empty ones."""
        found: dict[str, RoleDefsItem] = {}
        wanted = [(keys.app_pk(a), keys.ROLES) for a in dict.fromkeys(app_names)]
        for item in BaseItem.batch_get(wanted) if wanted else []:
            if isinstance(item, RoleDefsItem):
                found[item.app_name] = item
        return {a: to_defs(a, found.get(a)) for a in app_names}

    def get_role(self, app_name: str, role_code: str) -> Role | None:
        try:
            return to_role(RoleItem.get(keys.app_pk(app_name), keys.role_sk(role_code)))
        except DoesNotExist:
            return None

    def write_role(self, role: Role, defs: RoleDefs, now: float, expected: Role | None = None) -> None:
        """Create a role (``expected`` None: only if no role has the code) or replace one (only while its
        permissions and status are still ``expected``'s), with its entry in the app's role definitions,
        atomically.

        Raises:
            RoleDefsChangedError: the role or the definitions changed meanwhile (or the role exists).
        """
        key = RoleItem(pk=keys.app_pk(role.app_name), sk=keys.role_sk(role.role_code))
        if expected is None:
            item = RoleItem(
                pk=key.pk,
                sk=key.sk,
                role_id=role.role_id,
                app_name=role.app_name,
                role_code=role.role_code,
                role_name=role.role_name,
                permissions=list(role.permissions),
                menu_ids=list(role.menu_ids),
                status=role.status,
                epoch=role.epoch,
                created_at=int(now),
            )

            def write(tx: Any) -> None:
                tx.save(item, condition=RoleItem.pk.does_not_exist())
        else:
            same = RoleItem.permissions == list(expected.permissions)
            if not expected.permissions:
                same = same | RoleItem.permissions.does_not_exist()
            condition = RoleItem.pk.exists() & same & (RoleItem.status == expected.status)
            actions: list[Action] = [
                RoleItem.role_name.set(role.role_name),
                RoleItem.permissions.set(list(role.permissions)),
                RoleItem.menu_ids.set(list(role.menu_ids)),
                RoleItem.status.set(role.status),
                RoleItem.epoch.set(role.epoch),
            ]

            def write(tx: Any) -> None:
                tx.update(key, actions=actions, condition=condition)

        self._write(defs, {**defs.defs, role.role_code: role.definition()}, write)

    def delete_role(self, role: Role, defs: RoleDefs) -> None:
        """Delete a role and its definition; its holders' grants name an epoch that no longer exists.

        Raises:
            RoleDefsChangedError: the definitions changed meanwhile.
        """
        item = RoleItem(pk=keys.app_pk(role.app_name), sk=keys.role_sk(role.role_code))
        entries = {c: d for c, d in defs.defs.items() if c != role.role_code}
        self._write(defs, entries, lambda tx: tx.delete(item, condition=RoleItem.pk.exists()))

    def _write(self, defs: RoleDefs, entries: dict[str, RoleDef], role_write: Any) -> None:
        self._roles.drop(defs.app_name)
        current = RoleDefsItem(
            pk=keys.app_pk(defs.app_name),
            sk=keys.ROLES,
            app_name=defs.app_name,
            defs=_defs_json(entries),
            version=defs.version + 1,
        )
        condition = RoleDefsItem.pk.does_not_exist() if defs.version == 0 else RoleDefsItem.version == defs.version
        try:
            with self.table.transaction() as tx:
                role_write(tx)
                tx.save(current, condition=condition)
                for copy in copies_of(current):
                    tx.save(copy)
        except TransactWriteError as exc:
            if failed_indexes(exc) or is_conflict(exc):
                raise RoleDefsChangedError() from exc
            raise

    def list_roles(self, app_name: str, cached: bool = False) -> list[Role]:
        """Every role of an app (one Query on ``APP#<app>``, ``SK`` beginning with ``ROLE#``). ``cached``:
        what this container read less than ``settings_seconds`` ago (for the menu tree: which menus a
        role opens is layout, not rights); a role written by this container is seen at once."""

        def load() -> list[Role]:
            return [
                to_role(item)
                for item in RoleItem.query(keys.app_pk(app_name), RoleItem.sk.startswith("ROLE#"))
                if isinstance(item, RoleItem)
            ]

        return self._roles.get(app_name, load, fresh=not cached)

    def role_members(self, app_name: str, role_code: str, epoch: str, limit: int | None = None) -> list[str]:
        """User ids holding this incarnation of a role (GSI1, one Query per shard, stopping at ``limit``)."""
        members: list[str] = []
        for shard in range(keys.SHARDS):
            wanted = None if limit is None else limit - len(members)
            if wanted is not None and wanted <= 0:
                break
            query = UserRoleItem.gsi1.query(keys.role_members_gsi1pk(app_name, role_code, epoch, shard), limit=wanted)
            members.extend(str(i.user_id) for i in query if isinstance(i, UserRoleItem))
        return members

    def role_in_use(self, app_name: str, role_code: str, epoch: str) -> bool:
        """True when someone holds the role: reads one holder, not all."""
        return bool(self.role_members(app_name, role_code, epoch, limit=1))

    def members_page(
        self, app_name: str, roles: list[Role], limit: int, after: str | None
    ) -> tuple[list[str], str | None]:
        """A page of the user ids holding any of ``roles`` (of ``app_name``), by user id: one DynamoDB page
        (``Limit`` = ``limit``) per role and shard of the member index after ``after`` (a ``GSI1SK``),
        merged (``shared.db.pages``). Returns the ids and the cursor of the next page (None: the last)."""
        parts: list[Part[str]] = []
        for role in roles:
            for shard in range(keys.SHARDS):
                results = UserRoleItem.gsi1.query(
                    keys.role_members_gsi1pk(app_name, role.role_code, role.epoch, shard),
                    UserRoleItem.gsi1sk > after if after else None,
                    page_size=limit,
                )
                items, last = one_page(results, UserRoleItem)
                links = [(str(i.gsi1sk), str(i.user_id)) for i in items if isinstance(i, UserRoleItem)]
                parts.append(Part(links, key_value(last, "GSI1SK")))
        return merge(parts, limit, descending=False)

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
        self._settings.drop(app.app_name)
        return conditionally(lambda: item.save(condition=AppItem.pk.does_not_exist()))

    def update_app(self, app: AppConfig) -> bool:
        """Replace an app's settings; False when there is no such app."""
        self._settings.drop(app.app_name)
        item = AppItem(pk=keys.app_pk(app.app_name), sk=keys.META)
        actions = [
            getattr(AppItem, name).set(value) if value is not None else getattr(AppItem, name).remove()
            for name, value in app_fields(app).items()
        ]
        return conditionally(lambda: item.update(actions=actions, condition=AppItem.pk.exists()))


APPS = "APPS"


def copies_of(primary: RoleDefsItem) -> list[RoleDefsItem]:
    """The copies of an app's role definitions item (``keys.role_defs_copy``), as they are written."""
    return [
        RoleDefsItem(
            pk=keys.role_defs_copy_pk(primary.app_name, n),
            sk=keys.ROLES,
            app_name=primary.app_name,
            defs=primary.defs,
            version=primary.version,
        )
        for n in range(keys.ROLE_DEF_COPIES)
    ]


def app_fields(app: AppConfig) -> dict[str, Any]:
    return {
        "display_name": app.display_name,
        "default_role": app.default_role,
        "allowed_callback_origins": list(app.allowed_callback_origins),
        "require_captcha": app.require_captcha,
        "require_email_verification": app.require_email_verification,
        "require_phone_verification": app.require_phone_verification,
        "require_mfa": app.require_mfa,
        "wechat": dict(app.wechat) if app.wechat else None,
        "redirect_uris": list(app.redirect_uris) or None,
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris) or None,
        "backchannel_logout_uri": app.backchannel_logout_uri,
        "client_type": app.client_type,
        "client_secret_hash": app.client_secret_hash,
    }
