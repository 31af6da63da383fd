"""Exporting every user (issue 12, API.md section 13): cursor pages of rows in the import's own form, with
the identifiers, sign-in methods, WeChat identities, roles and the current password hash, so that an
export imports back into an empty stack to the same state (and exports the same again).

A row's ``external_id`` is the first id the person had in a replaced system, or ``uc:<user_id>`` (this
service's own); ``external_ids`` lists the replaced systems' ones. ``password_native`` marks a hash this
service made (bcrypt that never cut a password), which an import keeps as it is.
"""

from __future__ import annotations

from typing import Any

from shared.db.models import UserItem
from shared.db.users import UserRepository, account_from_json
from shared.services import legacy_hashes

OWN = "uc:"
PROFILE = ("username", "email", "phone", "nickname", "real_name", "avatar", "gender", "birthday", "department_id")


def row_of(item: UserItem) -> dict[str, Any]:
    """One user as an import row (keys with no value are left out)."""
    external = [e for e in (item.external_ids or []) if not e.startswith(OWN)]
    accounts = [account_from_json(a) for a in (item.accounts or [])]
    row: dict[str, Any] = {
        "external_id": external[0] if external else f"{OWN}{item.user_id}",
        "user_id": item.user_id,
        **{name: getattr(item, name) for name in PROFILE if getattr(item, name)},
        "email_verified": bool(item.email_verified),
        "phone_verified": bool(item.phone_verified),
        "status": item.status or "active",
        "created_at": float(item.created_at),
        "roles": {app: sorted(held) for app, held in sorted((item.roles or {}).items()) if held},
        "methods": sorted({a.provider for a in accounts if a.provider in ("password", "phone")}),
        "wechat": [
            {
                "app_id": a.app_id,
                "type": a.account_type or "miniapp",
                "open_id": a.open_id,
                **({"union_id": item.union_id} if item.union_id else {}),
                **({"nickname": a.nickname} if a.nickname else {}),
            }
            for a in accounts
            if a.provider == "wechat"
        ],
        "external_ids": external,
    }
    if item.password_hash:
        row["password_hash"] = item.password_hash
        row["password_native"] = legacy_hashes.scheme_of(item.password_hash) == "bcrypt"
    return row


class UserExport:
    def __init__(self, users: UserRepository) -> None:
        self.users = users

    def page(self, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of rows (one directory shard after another: every user once, in no overall order), and
        the next page's cursor (None: the last page)."""
        items, next_cursor = self.users.every_user(limit, cursor)
        return [row_of(item) for item in items], next_cursor
