"""Verification codes: ``CODE#<code_type>#<target>`` items (salted hash, tries, expiry; TTL).

Access patterns: store a new code unless the last one was sent less than the cooldown ago (one
conditional put), read a code (GetItem), count a wrong try (conditional update), consume it (conditional
delete: of two concurrent uses exactly one wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from shared.db import keys
from shared.db.models import CodeItem
from shared.db.table import Table, conditionally, is_condition_failure


@dataclass(frozen=True)
class CodeRecord:
    code_hash: str
    salt: str
    tries: int
    sent_at: float
    expires_at: float


def to_record(item: CodeItem) -> CodeRecord:
    return CodeRecord(item.code_hash, item.salt, int(item.tries or 0), item.sent_at, item.expires_at)


class CodeRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put_after_cooldown(self, code_type: str, target: str, record: CodeRecord, cooldown: int) -> float | None:
        """Store a new code; when one was sent less than ``cooldown`` seconds ago, store nothing and
        return when that one was sent."""
        item = CodeItem(
            pk=keys.code_pk(code_type, target),
            sk=keys.CODE,
            code_hash=record.code_hash,
            salt=record.salt,
            tries=0,
            sent_at=int(record.sent_at),
            expires_at=int(record.expires_at),
            ttl=int(record.expires_at),
        )
        try:
            item.save(condition=CodeItem.pk.does_not_exist() | (CodeItem.sent_at <= int(record.sent_at) - cooldown))
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            current = self.get(code_type, target)
            return current.sent_at if current else record.sent_at
        return None

    def get(self, code_type: str, target: str) -> CodeRecord | None:
        try:
            item = CodeItem.get(keys.code_pk(code_type, target), keys.CODE)
        except DoesNotExist:
            return None
        return to_record(item)

    def add_try(self, code_type: str, target: str, code_hash: str) -> None:
        """Count a wrong try against this very code (a newer code is left alone)."""
        item = CodeItem(pk=keys.code_pk(code_type, target), sk=keys.CODE)
        conditionally(lambda: item.update(actions=[CodeItem.tries.add(1)], condition=CodeItem.code_hash == code_hash))

    def consume(self, code_type: str, target: str, code_hash: str, max_tries: int) -> bool:
        """Delete the code if it is still this one and not burnt; False when another use won."""
        item = CodeItem(pk=keys.code_pk(code_type, target), sk=keys.CODE)
        return conditionally(
            lambda: item.delete(condition=(CodeItem.code_hash == code_hash) & (CodeItem.tries < max_tries))
        )

    def withdraw(self, code_type: str, target: str, code_hash: str) -> None:
        """Remove a code that could not be delivered, so it neither works nor holds the cooldown."""
        item = CodeItem(pk=keys.code_pk(code_type, target), sk=keys.CODE)
        conditionally(lambda: item.delete(condition=CodeItem.code_hash == code_hash))


@dataclass(frozen=True)
class CodeUse:
    """A checked code, to be deleted inside another transaction (sign-in writes it with the session)."""

    code_type: str
    target: str
    code_hash: str
    max_tries: int

    def delete_condition(self) -> Any:
        return (CodeItem.code_hash == self.code_hash) & (CodeItem.tries < self.max_tries)

    def item(self) -> CodeItem:
        return CodeItem(pk=keys.code_pk(self.code_type, self.target), sk=keys.CODE)


class CodeUsedError(Exception):
    """The code was consumed (or burnt) by a concurrent request; the transaction wrote nothing."""
