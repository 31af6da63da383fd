"""Second-factor state on the user item, and the sign-ins waiting for their second factor.

Access patterns (docs/data-model.md): the TOTP secret (sealed), its last accepted step and the recovery
codes' hashes live on the user item, so a sign-in reads them with the user, at no extra cost; every change
is one conditional UpdateItem guarded by ``mfa_ver`` (with its audit event, in one transaction). A sign-in
waiting for its second factor is ``MFA#<SHA-256 of mfa_token>`` (a state item, TTL 5 minutes), written
with the verification code its first step used, and deleted in the transaction that opens the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from shared.db import keys
from shared.db.codes import Consumable, delete_codes, raise_if_code_used
from shared.db.models import StateItem, UserItem
from shared.db.table import Table, conditionally, failed_indexes
from shared.db.users import StaleRecordError, UserItemChange, audit_item, is_version
from shared.domain import UserRecord


@dataclass(frozen=True)
class TicketUse:
    """A waiting sign-in, consumed by the transaction that opens its session (like a code)."""

    token_hash: str
    now: float

    def item(self) -> StateItem:
        return StateItem(pk=keys.mfa_ticket_pk(self.token_hash), sk=keys.STATE)

    def delete_condition(self) -> Any:
        return StateItem.pk.exists() & (StateItem.expires_at > int(self.now))


@dataclass(frozen=True)
class FactorUse:
    """A second factor accepted with a sign-in, written in the sign-in's own user item update.

    ``step``: the TOTP step accepted (written only if later than the last one: a code is accepted once,
    however many sign-ins race with it); ``spent``: a recovery code used (the list is written only if no
    other change came first); ``enrol``: a secret confirmed at this sign-in (``require_mfa``), with its
    new recovery codes.
    """

    record: UserRecord
    step: int | None = None
    spent: str | None = None
    enrol: str | None = None
    codes: list[str] = field(default_factory=list)

    @property
    def bumps_version(self) -> bool:
        """Enrolling changes the user's credentials: a sign-in read before it must read again."""
        return self.enrol is not None

    def actions(self) -> list[Action]:
        mfa = self.record.mfa
        actions: list[Action] = []
        if self.step is not None:
            actions.append(UserItem.totp_step.set(self.step))
        if self.spent is not None:
            remaining = [h for h in mfa.recovery_codes if h != self.spent]
            actions += [UserItem.recovery_codes.set(remaining), UserItem.mfa_ver.set(mfa.version + 1)]
        if self.enrol is not None:
            actions += [
                UserItem.totp_secret.set(self.enrol),
                UserItem.recovery_codes.set(self.codes),
                UserItem.mfa_ver.set(mfa.version + 1),
            ]
        return actions

    def condition(self) -> Condition:
        mfa = self.record.mfa
        if self.enrol is not None:
            enrolling: Condition = UserItem.totp_secret.does_not_exist() & is_version(UserItem.mfa_ver, mfa.version)
            return enrolling
        condition: Condition = UserItem.totp_secret == mfa.totp_secret
        if self.step is not None:
            condition &= UserItem.totp_step.does_not_exist() | (UserItem.totp_step < self.step)
        if self.spent is not None:
            condition &= is_version(UserItem.mfa_ver, mfa.version)
        return condition


class MfaRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- sign-ins waiting for a second factor ------------------------------------------------------------
    def put_ticket(
        self,
        token_hash: str,
        data: dict[str, Any],
        expires_at: float,
        consume: Sequence[Consumable],
        user_id: str = "",
        changes: Sequence[UserItemChange] = (),
    ) -> None:
        """Write a waiting sign-in, consuming the code its first step used, and writing ``changes`` on the
        user item (a password rehashed), in the same transaction.

        Raises:
            CodeUsedError: the code was used meanwhile (nothing was written).
            StaleRecordError: a change's condition failed (nothing was written).
        """
        item = StateItem(
            pk=keys.mfa_ticket_pk(token_hash), sk=keys.STATE, data=data, expires_at=int(expires_at), ttl=int(expires_at)
        )
        if not consume and not changes:
            item.save(condition=StateItem.pk.does_not_exist())
            return
        try:
            with self.table.transaction() as tx:
                delete_codes(tx, consume)
                tx.save(item, condition=StateItem.pk.does_not_exist())
                if changes:
                    actions = [a for change in changes for a in change.actions()]
                    condition: Condition = UserItem.pk.exists()
                    for change in changes:
                        condition = condition & change.condition()
                    tx.update(UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE), actions=actions, condition=condition)
        except TransactWriteError as exc:
            raise_if_code_used(exc, consume)
            if changes and failed_indexes(exc):
                raise StaleRecordError() from exc
            raise

    def ticket(self, token_hash: str, now: float) -> dict[str, Any] | None:
        """A waiting sign-in's data; None when unknown, used or expired (a strongly consistent read)."""
        try:
            item = StateItem.get(keys.mfa_ticket_pk(token_hash), keys.STATE, consistent_read=True)
        except DoesNotExist:
            return None
        if int(item.expires_at) <= int(now):
            return None
        return dict(item.data or {})

    def update_ticket(self, token_hash: str, data: dict[str, Any], now: float) -> bool:
        """Replace a waiting sign-in's data (the secret it enrols); False when it is gone."""
        item = StateItem(pk=keys.mfa_ticket_pk(token_hash), sk=keys.STATE)
        condition = StateItem.pk.exists() & (StateItem.expires_at > int(now))
        return conditionally(lambda: item.update(actions=[StateItem.data.set(data)], condition=condition))

    # -- the user's second factor --------------------------------------------------------------------------
    def set_pending(self, record: UserRecord, sealed: str, now: float) -> bool:
        """Keep a new secret until it is confirmed; False when TOTP was turned on (or changed) meanwhile."""
        mfa = record.mfa
        condition = UserItem.totp_secret.does_not_exist() & is_version(UserItem.mfa_ver, mfa.version)
        actions = [
            UserItem.totp_pending.set(sealed),
            UserItem.totp_pending_at.set(int(now)),
            UserItem.mfa_ver.set(mfa.version + 1),
        ]
        return self._update(record, actions, condition, None)

    def enable(self, record: UserRecord, step: int, codes: list[str], audit: dict[str, Any]) -> bool:
        """Turn on the pending secret (accepted at ``step``) with ``codes``; False when it changed meanwhile."""
        mfa = record.mfa
        if mfa.totp_pending is None:
            return False
        condition = (
            UserItem.totp_secret.does_not_exist()
            & (UserItem.totp_pending == mfa.totp_pending)
            & is_version(UserItem.mfa_ver, mfa.version)
        )
        actions = [
            UserItem.totp_secret.set(mfa.totp_pending),
            UserItem.totp_pending.remove(),
            UserItem.totp_pending_at.remove(),
            UserItem.totp_step.set(step),
            UserItem.recovery_codes.set(codes),
            UserItem.mfa_ver.set(mfa.version + 1),
            UserItem.ver.add(1),
        ]
        return self._update(record, actions, condition, audit)

    def replace_codes(self, use: FactorUse, codes: list[str], audit: dict[str, Any]) -> bool:
        """New recovery codes, proven by ``use`` (a current code); False when something changed first."""
        mfa = use.record.mfa
        actions = [UserItem.totp_step.set(use.step)] if use.step is not None else []
        actions += [UserItem.recovery_codes.set(codes), UserItem.mfa_ver.set(mfa.version + 1)]
        condition = use.condition() & is_version(UserItem.mfa_ver, mfa.version)
        return self._update(use.record, actions, condition, audit)

    def disable(self, use: FactorUse, audit: dict[str, Any]) -> bool:
        """Turn TOTP off, proven by ``use``; False when something changed first."""
        record = use.record
        condition = use.condition() & is_version(UserItem.mfa_ver, record.mfa.version)
        return self._update(record, _cleared(record), condition, audit)

    def reset(self, record: UserRecord, audit: dict[str, Any]) -> bool:
        """An admin turns the user's second factor off (a lost device); False when it changed meanwhile."""
        condition = is_version(UserItem.mfa_ver, record.mfa.version)
        return self._update(record, _cleared(record), condition, audit)

    def _update(
        self, record: UserRecord, actions: Sequence[Action], condition: Condition, audit: dict[str, Any] | None
    ) -> bool:
        user_id = record.user.user_id
        item = UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE)
        condition = UserItem.pk.exists() & condition
        actions = list(actions)
        if audit is None:
            return conditionally(lambda: item.update(actions=actions, condition=condition))
        try:
            with self.table.transaction() as tx:
                tx.save(audit_item(user_id, audit))
                tx.update(item, actions=actions, condition=condition)
        except TransactWriteError as exc:
            if any(reason is not None for reason in exc.cancellation_reasons):
                return False
            raise
        return True


def _cleared(record: UserRecord) -> list[Action]:
    """Every second-factor attribute removed; ``ver`` bumped (a sign-in read before must read again)."""
    return [
        UserItem.totp_secret.remove(),
        UserItem.totp_pending.remove(),
        UserItem.totp_pending_at.remove(),
        UserItem.totp_step.remove(),
        UserItem.recovery_codes.remove(),
        UserItem.mfa_ver.set(record.mfa.version + 1),
        UserItem.ver.add(1),
    ]
