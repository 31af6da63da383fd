"""The table binding: which table, where, and how transactions reach it.

``Table`` is created once per container from settings (or by tests with a moto endpoint). It binds the
PynamoDB models on creation, so nothing connects at import time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from shared.db.models import BaseItem, bind
from shared.request_scope import next_transaction_token


class Table:
    """One table; transactions reuse the models' connection, so one botocore client serves all."""

    def __init__(self, name: str, region: str, endpoint: str | None = None) -> None:
        self.name = name
        self.region = region
        self.endpoint = endpoint
        bind(name, region, endpoint)

    def connection(self) -> Connection:
        return BaseItem._get_connection().connection

    def transaction(self) -> TransactWrite:
        """A write transaction (all or nothing) on this table, with the ``ClientRequestToken`` the current
        request derives for it (``shared.request_scope``; outside a request botocore generates one)."""
        return TransactWrite(connection=self.connection(), client_request_token=next_transaction_token())


def error_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code behind a PynamoDB error; None for timeouts and network failures
    (PynamoDB's own ``cause_response_code`` raises for those)."""
    response = getattr(error.cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_condition_failure(error: PynamoDBException) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def conditionally(write: Callable[[], object]) -> bool:
    """Run one conditional write; False when its condition did not hold (any other failure is raised)."""
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


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


def conflict_backoff(attempt: int, base: float = 0.02, cap: float = 0.2) -> None:
    """Wait before retrying a write another one conflicted with: "full jitter" (a random time up to an
    exponentially growing bound), so writers that collided do not collide again in lockstep."""
    time.sleep(secrets.SystemRandom().uniform(0, min(cap, base * 2**attempt)))
