"""Changes to what a user may do, written together with the sessions that carry it.

A session is the authorizer's snapshot of the user's roles and permissions in its app (one GetItem per
request), so every change of grants rewrites the affected sessions in the same transaction: the change
and the sessions never disagree, and the authorizer sees it at once (within its cache time).
Access patterns: the user's sessions through GSI1, then one TransactWriteItems (≤ 100 items).
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError

from shared.db import keys
from shared.db.models import SessionItem, UserRoleItem
from shared.db.table import Table, is_conflict
from shared.db.users import grant_item
from shared.domain import RoleGrant

MAX_ITEMS = 100  # DynamoDB's limit of items in one transaction


@dataclass(frozen=True)
class SessionGrants:
    """New roles and permissions for one session."""

    session_id: str
    roles: list[str]
    permissions: list[str]


class StaleSessionsError(Exception):
    """A session changed (was deleted) while the grants were being written; nothing was written."""


class GrantRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def change(
        self,
        user_id: str,
        add: list[RoleGrant],
        remove: list[tuple[str, str]],
        sessions: list[SessionGrants],
        now: float,
    ) -> None:
        """Add and remove ``(app_name, role_code)`` grants and rewrite ``sessions``, atomically.

        Raises:
            StaleSessionsError: a session to rewrite no longer exists (the caller reads again).
            ValueError: more than 100 items would be written.
        """
        if len(add) + len(remove) + len(sessions) > MAX_ITEMS:
            raise ValueError("too many changes for one transaction")
        try:
            with self.table.transaction() as tx:
                for grant in add:
                    tx.save(grant_item(user_id, grant, now))
                for app_name, role_code in remove:
                    tx.delete(UserRoleItem(pk=keys.user_pk(user_id), sk=keys.user_role_sk(app_name, role_code)))
                for entry in sessions:
                    tx.update(
                        SessionItem(pk=keys.session_pk(entry.session_id), sk=keys.SESSION),
                        actions=[
                            SessionItem.roles.set(entry.roles),
                            SessionItem.permissions.set(entry.permissions),
                        ],
                        condition=SessionItem.pk.exists(),
                    )
        except TransactWriteError as exc:
            if is_conflict(exc) or any(r is not None for r in exc.cancellation_reasons):
                raise StaleSessionsError() from exc
            raise
