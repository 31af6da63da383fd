"""Bring data written by earlier versions to the current item shapes (docs/data-model.md).

Earlier versions copied each role's permissions into its holders' link items and sessions, kept accounts
as separate items, and put every user in one directory partition. This rewrite is idempotent and reads
the whole table (a Scan): it is an operator's tool (``scripts/migrate.py``) and runs when the local server
starts on data kept in ``.local/``; no request path uses it.

* every app gets its role definitions item, every role an epoch, and the definitions their copies
  (``ROLES#<app>#<n>``: until then, requests read the primary item after missing their copy);
* every user with an inviter, a department, or disabled, gets its ``FILTER#`` entries (sparse indexes
  kept by hand), and user items leave GSI1 (invitees were listed there, hashes and all);
* every user item gets ``roles`` (from its links), ``accounts`` (from its account items), an empty
  ``sessions`` map, and its directory shard; links move to the sharded member index.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import replace

from pynamodb.exceptions import DoesNotExist

from shared.clock import IdFactory, new_id
from shared.db import keys
from shared.db.apps import AppRepository, RoleDefsChangedError, copies_of
from shared.db.models import (
    AccountItem,
    BaseItem,
    FilterEntryItem,
    RoleDefsItem,
    RoleItem,
    SchemaItem,
    UserItem,
    UserRoleItem,
)
from shared.db.table import conditionally
from shared.db.users import account_json, filter_entries, grant_item, to_account, to_user
from shared.domain import RoleGrant

SCHEMA_VERSION = 3


def _save_unless_newer(copy: RoleDefsItem) -> None:
    """Write a copy of role definitions, never over a newer one (a role edited meanwhile)."""
    older = RoleDefsItem.pk.does_not_exist() | (RoleDefsItem.version < copy.version)
    conditionally(lambda: copy.save(condition=older))


def migrate(apps: AppRepository, ids: IdFactory = new_id, now: float = 0.0) -> dict[str, int]:
    """Upgrade the table in place (once: a ``SCHEMA`` item records it); how many roles and users changed."""
    try:
        if int(SchemaItem.get(keys.SCHEMA, keys.SCHEMA).version) >= SCHEMA_VERSION:
            return {"roles": 0, "users": 0}
    except DoesNotExist:
        pass
    items = list(BaseItem.scan())
    roles = [i for i in items if isinstance(i, RoleItem)]
    changed_roles = 0
    for app_name in sorted({r.app_name for r in roles}):
        defs = apps.get_defs([app_name])[app_name]
        for role_item in (r for r in roles if r.app_name == app_name):
            role = apps.get_role(app_name, role_item.role_code)
            if role is None or (role.epoch and role.role_code in defs.defs):
                continue
            fixed = role if role.epoch else replace(role, epoch=ids()[:8])
            with contextlib.suppress(RoleDefsChangedError):  # written concurrently: re-read below
                apps.write_role(fixed, defs, now, expected=role)
            defs = apps.get_defs([app_name])[app_name]
            changed_roles += 1
    for primary in BaseItem.scan(RoleDefsItem.sk == keys.ROLES):
        if isinstance(primary, RoleDefsItem) and primary.pk == keys.app_pk(primary.app_name):
            for copy in copies_of(primary):
                _save_unless_newer(copy)
    definitions = apps.get_defs(sorted({r.app_name for r in roles}))
    links: dict[str, list[UserRoleItem]] = defaultdict(list)
    accounts: dict[str, list[AccountItem]] = defaultdict(list)
    for item in items:
        if isinstance(item, UserRoleItem):
            links[item.user_id].append(item)
        elif isinstance(item, AccountItem):
            accounts[item.user_id].append(item)
    changed_users = 0
    for user in (i for i in items if isinstance(i, UserItem)):
        if user.roles is not None and user.gsi2pk != keys.USERS:
            continue
        held: dict[str, dict[str, str]] = {}
        for link in links[user.user_id]:
            role_def = definitions.get(link.app_name)
            if role_def is None or link.role_code not in role_def.defs:
                continue
            epoch = role_def.defs[link.role_code].epoch
            held.setdefault(link.app_name, {})[link.role_code] = epoch
            grant_item(user.user_id, RoleGrant(link.app_name, link.role_code, link.role_id, "", [], epoch), now).save()
        user.roles = user.roles or held
        if user.accounts is None:
            user.accounts = [account_json(to_account(a)) for a in accounts[user.user_id]]
        if user.sessions is None:
            user.sessions = {}
        user.gsi2pk = keys.directory_gsi2pk(keys.shard_of(user.user_id))
        user.save()
        changed_users += 1
    for user in (i for i in items if isinstance(i, UserItem)):
        for pk in filter_entries(to_user(user)):
            sk = keys.directory_gsi2sk(user.created_at, user.user_id)
            FilterEntryItem(pk=pk, sk=sk, user_id=user.user_id).save()
        if str(user.gsi1pk or "").startswith("INVITER#"):  # invitees were a GSI1 partition (whole user items)
            user.update(actions=[UserItem.gsi1pk.remove(), UserItem.gsi1sk.remove()])
    SchemaItem(pk=keys.SCHEMA, sk=keys.SCHEMA, version=SCHEMA_VERSION).save()
    return {"roles": changed_roles, "users": changed_users}
