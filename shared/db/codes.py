"""Verification codes: ``CODE#<code_type>#<target>`` items (salted hash, tries, expiry; TTL), and the
resend cooldown of each target: ``COOLDOWN#<channel>#<target>`` (API.md section 7: per phone number or
email, whatever the code type).

Access patterns: claim the target's cooldown unless a code went to it less than the cooldown ago, and store
the code, in one transaction (of concurrent senders exactly one wins, whichever code types they ask for);
read a code (GetItem), count a wrong try (conditional update), consume it (conditional
delete: of two concurrent uses exactly one wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.db import keys
from shared.db.models import CodeItem, CooldownItem
from shared.db.table import Table, conditionally, failed_indexes


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

    def cooldown_started(self, channel: str, target: str) -> float | None:
        """When the last code went to ``target`` by ``channel``, if its cooldown item is still there."""
        try:
            return float(CooldownItem.get(keys.cooldown_pk(channel, target), keys.COOLDOWN).sent_at)
        except DoesNotExist:
            return None

    def put_after_cooldown(
        self, channel: str, code_type: str, target: str, record: CodeRecord, cooldown: int
    ) -> float | None:
        """Store a new code; when any code (of any type) went to ``target`` by ``channel`` less than
        ``cooldown`` seconds ago, store nothing and return when that one was sent.

        One transaction: the cooldown item, claimed with a condition (so concurrent senders cannot both
        pass), and the code. A failure leaves neither, so the sender can try again at once. A code of
        another type that is still valid stays valid (codes stay bound to their type).
        """
        sent_at = int(record.sent_at)
        claim = CooldownItem(
            pk=keys.cooldown_pk(channel, target),
            sk=keys.COOLDOWN,
            code_hash=record.code_hash,
            sent_at=sent_at,
            ttl=sent_at + cooldown,
        )
        item = CodeItem(
            pk=keys.code_pk(code_type, target),
            sk=keys.CODE,
            code_hash=record.code_hash,
            salt=record.salt,
            tries=0,
            sent_at=sent_at,
            expires_at=int(record.expires_at),
            ttl=int(record.expires_at),
        )
        try:
            with self.table.transaction() as tx:
                free = CooldownItem.pk.does_not_exist() | (CooldownItem.sent_at <= sent_at - cooldown)
                tx.save(claim, condition=free)
                tx.save(item)
        except TransactWriteError as exc:
            if not failed_indexes(exc):
                raise
            return self.cooldown_started(channel, target) or record.sent_at  # released a moment ago: rare
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

    def withdraw(self, channel: str, code_type: str, target: str, code_hash: str) -> None:
        """Remove a code that could not be delivered, so it neither works nor holds the cooldown (each
        only if it is still this code's: a newer one stays)."""
        item = CodeItem(pk=keys.code_pk(code_type, target), sk=keys.CODE)
        conditionally(lambda: item.delete(condition=CodeItem.code_hash == code_hash))
        cooldown = CooldownItem(pk=keys.cooldown_pk(channel, target), sk=keys.COOLDOWN)
        conditionally(lambda: cooldown.delete(condition=CooldownItem.code_hash == code_hash))


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


class Consumable(Protocol):
    """Something a transaction deletes once, on a condition (a checked code, a waiting sign-in)."""

    def item(self) -> Any: ...

    def delete_condition(self) -> Any: ...


class CodeUsedError(Exception):
    """The code was consumed (or burnt) by a concurrent request; the transaction wrote nothing."""


def delete_codes(tx: TransactWrite, uses: Sequence[Consumable]) -> None:
    """Consume ``uses`` inside a transaction. Call it before any other delete: PynamoDB sends deletes
    before puts and updates, in call order, so the codes take positions ``0 .. len(uses) - 1``."""
    for use in uses:
        tx.delete(use.item(), condition=use.delete_condition())


def raise_if_code_used(error: TransactWriteError, uses: Sequence[Consumable]) -> None:
    """Raises: CodeUsedError when the cancelled transaction lost one of ``uses`` (see :func:`delete_codes`)."""
    if any(i < len(uses) for i in failed_indexes(error)):
        raise CodeUsedError() from error
