"""The table binding: which table, where, and how transactions reach it.

``Table`` is created once per container from settings (or by tests with a moto endpoint). It binds the
PynamoDB models on creation, so nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.db.models import BaseItem, bind


@dataclass(frozen=True)
class Table:
    name: str
    region: str
    endpoint: str | None = None

    def __post_init__(self) -> None:
        bind(self.name, self.region, self.endpoint)

    def connection(self) -> Connection:
        meta = BaseItem.Meta
        return Connection(
            region=self.region,
            host=self.endpoint,
            connect_timeout_seconds=meta.connect_timeout_seconds,
            read_timeout_seconds=meta.read_timeout_seconds,
            max_retry_attempts=meta.max_retry_attempts,
        )

    def transaction(self) -> TransactWrite:
        """A write transaction (all or nothing) on this table."""
        return TransactWrite(connection=self.connection())


def failed_indexes(error: TransactWriteError, code: str = "ConditionalCheckFailed") -> list[int]:
    """Positions of the transaction items cancelled with ``code``.

    PynamoDB sends a transaction's items grouped by kind: condition checks, deletes, puts, updates
    (each group in call order), and the positions refer to that order.
    """
    return [i for i, reason in enumerate(error.cancellation_reasons) if reason is not None and reason.code == code]


def is_conflict(error: TransactWriteError) -> bool:
    """True when DynamoDB cancelled the transaction because another one touched the same items."""
    return bool(failed_indexes(error, "TransactionConflict"))


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
