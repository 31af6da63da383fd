"""The sign-in center's sessions: ``CSESSION#<hash>`` items (see ``CenterSessionItem``).

Access patterns: put a new one; read one, then its user item (strongly consistent: the user's ``rev``
and status decide whether it still counts); extend its idle expiry (at most once a
minute); record a client signed in through it (a nested write: concurrent sign-ins to two clients do not
conflict); delete it, returning the clients to sign out (single logout).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from shared.db import keys
from shared.db.codes import Consumable, delete_codes, raise_if_code_used
from shared.db.models import BaseItem, CenterSessionItem, UserItem
from shared.db.table import Table, conditionally, failed_indexes
from shared.db.users import StaleRecordError, UserItemChange


@dataclass(frozen=True)
class CenterSession:
    cookie_hash: str
    sid: str
    user_id: str
    rev: int
    auth_time: float
    amr: list[str]
    idle_expires_at: float
    expires_at: float
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> app session id


def to_center_session(item: CenterSessionItem) -> CenterSession:
    raw = item.clients.as_dict() if item.clients else {}
    return CenterSession(
        cookie_hash=item.pk.removeprefix("CSESSION#"),
        sid=item.sid,
        user_id=item.user_id,
        rev=int(item.rev or 0),
        auth_time=float(item.auth_time),
        amr=list(item.amr or []),
        idle_expires_at=float(item.idle_expires_at),
        expires_at=float(item.expires_at),
        clients={str(k): str(v) for k, v in raw.items()},
    )


class CenterSessionRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(
        self,
        session: CenterSession,
        clear_failures: bool = False,
        consume: Sequence[Consumable] = (),
        changes: Sequence[UserItemChange] = (),
    ) -> None:
        """Write a new session; with ``clear_failures``, in one transaction with clearing its user's
        reserved sign-in attempts (the password that opened it was right); ``consume``: the codes (or the
        waiting sign-in) that proved the sign-in, used in the same transaction; ``changes``: what else the
        sign-in writes on the user item (the second factor accepted, a password rehashed), each on its own
        condition.

        Raises:
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
            StaleRecordError: a change's condition failed (a replayed step, a spent code, a hash replaced).
        """
        item = CenterSessionItem(
            pk=keys.center_session_pk(session.cookie_hash),
            sk=keys.CSESSION,
            sid=session.sid,
            user_id=session.user_id,
            rev=session.rev,
            auth_time=int(session.auth_time),
            amr=list(session.amr),
            idle_expires_at=int(session.idle_expires_at),
            expires_at=int(session.expires_at),
            clients={},
            ttl=int(session.expires_at),
        )
        if not clear_failures and not consume and not changes:
            item.save(condition=CenterSessionItem.pk.does_not_exist())
            return
        actions: list[Action] = []
        condition: Condition = UserItem.pk.exists()
        if clear_failures:
            actions += [UserItem.login_fails.remove(), UserItem.login_window.remove()]
        for change in changes:
            actions += change.actions()
            condition = condition & change.condition()
        try:
            with self.table.transaction() as tx:
                delete_codes(tx, consume)
                tx.save(item, condition=CenterSessionItem.pk.does_not_exist())
                if actions:
                    tx.update(
                        UserItem(pk=keys.user_pk(session.user_id), sk=keys.PROFILE),
                        actions=actions,
                        condition=condition,
                    )
        except TransactWriteError as exc:
            raise_if_code_used(exc, consume)
            if changes and failed_indexes(exc):
                raise StaleRecordError() from exc
            raise

    def with_user(self, cookie_hash: str) -> tuple[CenterSession | None, UserItem | None]:
        """The session and its user's item (two strongly consistent reads)."""
        try:
            item = CenterSessionItem.get(keys.center_session_pk(cookie_hash), keys.CSESSION, consistent_read=True)
        except DoesNotExist:
            return None, None
        session = to_center_session(item)
        users = list(BaseItem.batch_get([(keys.user_pk(session.user_id), keys.PROFILE)], consistent_read=True))
        user = next((u for u in users if isinstance(u, UserItem)), None)
        return session, user

    def touch(self, cookie_hash: str, idle_expires_at: float) -> None:
        item = CenterSessionItem(pk=keys.center_session_pk(cookie_hash), sk=keys.CSESSION)
        conditionally(
            lambda: item.update(
                actions=[CenterSessionItem.idle_expires_at.set(int(idle_expires_at))],
                condition=CenterSessionItem.pk.exists(),
            )
        )

    def add_client(self, cookie_hash: str, client_id: str, app_session_id: str) -> bool:
        """Record a client's app session; False when the center session is gone."""
        item = CenterSessionItem(pk=keys.center_session_pk(cookie_hash), sk=keys.CSESSION)
        return conditionally(
            lambda: item.update(
                actions=[CenterSessionItem.clients[client_id].set(app_session_id)],
                condition=CenterSessionItem.pk.exists(),
            )
        )

    def delete(self, cookie_hash: str) -> CenterSession | None:
        """Delete the session; what it was (None when there was none)."""
        try:
            item = CenterSessionItem.get(keys.center_session_pk(cookie_hash), keys.CSESSION, consistent_read=True)
        except DoesNotExist:
            return None
        session = to_center_session(item)
        if not conditionally(lambda: item.delete(condition=CenterSessionItem.pk.exists())):
            return None  # another logout took it
        return session
