"""OAuth ``state`` values: ``STATE#<state>`` items with their data, taken once (conditional delete)."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from shared.db import keys
from shared.db.models import StateItem
from shared.db.table import Table, conditionally


class StateRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, state: str, data: dict[str, Any], expires_at: float) -> None:
        StateItem(
            pk=keys.state_pk(state), sk=keys.STATE, data=data, expires_at=int(expires_at), ttl=int(expires_at)
        ).save(condition=StateItem.pk.does_not_exist())

    def peek(self, state: str, now: float) -> tuple[dict[str, Any], str | None] | None:
        """A state's data and who scanned it (a sign-in QR ticket), without taking it; None when unknown
        or expired (a strongly consistent read: a poll sees a scan at once)."""
        try:
            item = StateItem.get(keys.state_pk(state), keys.STATE, consistent_read=True)
        except DoesNotExist:
            return None
        if int(item.expires_at) <= int(now):
            return None
        return dict(item.data or {}), item.scanned_by

    def scanned(self, state: str, user_id: str, now: float) -> bool:
        """Record the user who scanned a sign-in QR ticket, once; False when it is gone, expired or
        already scanned."""
        item = StateItem(pk=keys.state_pk(state), sk=keys.STATE)
        condition = StateItem.pk.exists() & (StateItem.expires_at > int(now)) & StateItem.scanned_by.does_not_exist()
        return conditionally(lambda: item.update(actions=[StateItem.scanned_by.set(user_id)], condition=condition))

    def take(self, state: str, now: float) -> dict[str, Any] | None:
        """The state's data, once: the first caller deletes it; expired or unknown states give None."""
        try:
            item = StateItem.get(keys.state_pk(state), keys.STATE)
        except DoesNotExist:
            return None
        if not conditionally(lambda: item.delete(condition=StateItem.pk.exists() & (StateItem.expires_at > int(now)))):
            return None
        data: dict[str, Any] = dict(item.data or {})
        return data
