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
