"""Passkeys (WebAuthn credentials) and the challenges handed out for them.

Access patterns (docs/data-model.md): a user's passkeys (one Query of ``USER#<id>`` for ``PASSKEY#``);
one passkey with its user (one BatchGetItem: the credential's user handle names the user); register one
(a transaction with its credential-id claim, so a credential belongs to one user); record a use (an
UpdateItem on the sign count it was read with, so two uses of one signature or a cloned authenticator
cannot both count); challenges are ``WEBAUTHN#<SHA-256>`` state items, taken once (a conditional delete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action

from shared.db import keys
from shared.db.models import BaseItem, ClaimItem, PasskeyItem, StateItem, UserItem
from shared.db.table import Table, conditionally
from shared.db.users import audit_item


@dataclass(frozen=True)
class Passkey:
    user_id: str
    credential_id: str
    credential_data: str
    sign_count: int
    backup_eligible: bool
    backed_up: bool
    transports: list[str]
    name: str | None
    created_at: float
    last_used_at: float | None


class CredentialTakenError(Exception):
    """The credential id is registered already (to this user or another)."""


def to_passkey(item: PasskeyItem) -> Passkey:
    return Passkey(
        user_id=item.user_id,
        credential_id=item.credential_id,
        credential_data=item.credential_data,
        sign_count=int(item.sign_count or 0),
        backup_eligible=bool(item.backup_eligible),
        backed_up=bool(item.backed_up),
        transports=list(item.transports or []),
        name=item.name,
        created_at=float(item.created_at),
        last_used_at=float(item.last_used_at) if item.last_used_at is not None else None,
    )


class PasskeyRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- challenges ---------------------------------------------------------------------------------------
    def put_challenge(self, challenge_hash: str, data: dict[str, Any], expires_at: float) -> None:
        StateItem(
            pk=keys.webauthn_challenge_pk(challenge_hash),
            sk=keys.STATE,
            data=data,
            expires_at=int(expires_at),
            ttl=int(expires_at),
        ).save(condition=StateItem.pk.does_not_exist())

    def take_challenge(self, challenge_hash: str, now: float) -> dict[str, Any] | None:
        """A challenge's data, once: the first caller deletes it; unknown or expired ones give None."""
        try:
            item = StateItem.get(keys.webauthn_challenge_pk(challenge_hash), keys.STATE)
        except DoesNotExist:
            return None
        condition = StateItem.pk.exists() & (StateItem.expires_at > int(now))
        if not conditionally(lambda: item.delete(condition=condition)):
            return None
        return dict(item.data or {})

    # -- passkeys -----------------------------------------------------------------------------------------
    def of_user(self, user_id: str) -> list[Passkey]:
        """The user's passkeys, oldest first."""
        query = PasskeyItem.query(keys.user_pk(user_id), PasskeyItem.sk.startswith("PASSKEY#"))
        return sorted((to_passkey(i) for i in query if isinstance(i, PasskeyItem)), key=lambda p: p.created_at)

    def with_user(self, user_id: str, credential_id: str) -> tuple[Passkey | None, UserItem | None]:
        """A passkey and its user's item, in one BatchGetItem (strongly consistent)."""
        wanted = [(keys.user_pk(user_id), keys.PROFILE), (keys.user_pk(user_id), keys.passkey_sk(credential_id))]
        passkey, user = None, None
        for item in BaseItem.batch_get(wanted, consistent_read=True):
            if isinstance(item, PasskeyItem):
                passkey = to_passkey(item)
            elif isinstance(item, UserItem):
                user = item
        return passkey, user

    def add(self, passkey: Passkey, audit: dict[str, Any]) -> None:
        """Register a passkey with its credential-id claim and an audit event, in one transaction.

        Raises:
            CredentialTakenError: the credential id is registered already.
        """
        item = PasskeyItem(
            pk=keys.user_pk(passkey.user_id),
            sk=keys.passkey_sk(passkey.credential_id),
            user_id=passkey.user_id,
            credential_id=passkey.credential_id,
            credential_data=passkey.credential_data,
            sign_count=passkey.sign_count,
            backup_eligible=passkey.backup_eligible,
            backed_up=passkey.backed_up,
            transports=passkey.transports or None,
            name=passkey.name,
            created_at=int(passkey.created_at),
        )
        claim = ClaimItem(pk=keys.passkey_claim(passkey.credential_id), sk=keys.CLAIM, user_id=passkey.user_id)
        try:
            with self.table.transaction() as tx:
                tx.condition_check(
                    UserItem, keys.user_pk(passkey.user_id), keys.PROFILE, condition=UserItem.pk.exists()
                )
                tx.save(claim, condition=ClaimItem.pk.does_not_exist())
                tx.save(item, condition=PasskeyItem.pk.does_not_exist())
                tx.save(audit_item(passkey.user_id, audit))
        except TransactWriteError as exc:
            raise CredentialTakenError() from exc

    def used(self, passkey: Passkey, sign_count: int, backed_up: bool, now: float) -> bool:
        """Record a use at ``sign_count``; False when the passkey changed since it was read (another use
        of it counted first, or it was removed)."""
        item = PasskeyItem(pk=keys.user_pk(passkey.user_id), sk=keys.passkey_sk(passkey.credential_id))
        condition = PasskeyItem.pk.exists() & (PasskeyItem.sign_count == passkey.sign_count)
        actions: list[Action] = [
            PasskeyItem.sign_count.set(sign_count),
            PasskeyItem.backed_up.set(backed_up),
            PasskeyItem.last_used_at.set(int(now)),
        ]
        return conditionally(lambda: item.update(actions=actions, condition=condition))

    def remove(self, user_id: str, credential_id: str, audit: dict[str, Any]) -> bool:
        """Delete one of the user's passkeys with its claim; False when there is no such passkey."""
        try:
            PasskeyItem.get(keys.user_pk(user_id), keys.passkey_sk(credential_id), consistent_read=True)
        except DoesNotExist:
            return False
        try:
            with self.table.transaction() as tx:
                tx.delete(
                    PasskeyItem(pk=keys.user_pk(user_id), sk=keys.passkey_sk(credential_id)),
                    condition=PasskeyItem.pk.exists(),
                )
                tx.delete(
                    ClaimItem(pk=keys.passkey_claim(credential_id), sk=keys.CLAIM),
                    condition=ClaimItem.user_id == user_id,
                )
                tx.save(audit_item(user_id, audit))
        except TransactWriteError:
            return False
        return True
