"""Session items: one GetItem for the authorizer, one conditional update per refresh.

Access patterns: get a session by id (authorizer, verify-token), rotate its refresh token with a
condition on the presented hash (exactly one of many concurrent refreshes wins), list and delete a
user's sessions through ``GSI1`` (``GSI1PK=USER#<id>``).
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, UpdateError

from shared.db import keys
from shared.db.models import SessionItem
from shared.db.table import Table, chunks, conditionally, is_condition_failure
from shared.domain import Session


def session_item(session: Session) -> SessionItem:
    return SessionItem(
        pk=keys.session_pk(session.session_id),
        sk=keys.SESSION,
        gsi1pk=keys.user_pk(session.user_id),
        gsi1sk=keys.session_gsi1sk(session.created_at, session.session_id),
        session_id=session.session_id,
        user_id=session.user_id,
        app_name=session.app_name,
        roles=list(session.roles),
        permissions=list(session.permissions),
        refresh_hash=session.refresh_hash,
        generation=session.generation,
        previous_hashes=list(session.previous_hashes),
        created_at=int(session.created_at),
        last_used_at=int(session.last_used_at),
        expires_at=int(session.expires_at),
        max_expires_at=int(session.max_expires_at) if session.max_expires_at else None,
        ip=session.ip,
        user_agent=session.user_agent,
        ttl=int(session.effective_expiry()),
    )


def to_session(item: SessionItem) -> Session:
    return Session(
        session_id=item.session_id,
        user_id=item.user_id,
        app_name=item.app_name,
        roles=list(item.roles or []),
        permissions=list(item.permissions or []),
        refresh_hash=item.refresh_hash,
        generation=int(item.generation or 0),
        previous_hashes=list(item.previous_hashes or []),
        created_at=item.created_at,
        last_used_at=item.last_used_at,
        expires_at=item.expires_at,
        max_expires_at=item.max_expires_at,
        ip=item.ip,
        user_agent=item.user_agent,
    )


class SessionRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, session_id: str) -> Session | None:
        try:
            return to_session(SessionItem.get(keys.session_pk(session_id), keys.SESSION))
        except DoesNotExist:
            return None

    def rotate(
        self,
        session_id: str,
        presented_hash: str,
        new_hash: str,
        *,
        now: float,
        expires_at: float,
        generation: int,
        slot: int,
    ) -> Session | None:
        """Swap the refresh hash if ``presented_hash`` is current and unexpired; None when it is not.

        The presented hash goes to slot ``slot`` (the old generation modulo the memory size) of the
        ``previous_hashes`` ring, so a replay of any of the last N tokens is recognised as reuse. While
        the list is shorter than the slot, DynamoDB appends, which fills slots in order.
        """
        item = SessionItem(pk=keys.session_pk(session_id), sk=keys.SESSION)
        try:
            item.update(
                actions=[
                    SessionItem.refresh_hash.set(new_hash),
                    SessionItem.generation.set(generation),
                    SessionItem.previous_hashes[slot].set(presented_hash),
                    SessionItem.last_used_at.set(int(now)),
                    SessionItem.expires_at.set(int(expires_at)),
                    SessionItem.ttl.set(int(expires_at)),
                ],
                condition=(SessionItem.refresh_hash == presented_hash)
                & (SessionItem.expires_at > int(now))
                & (SessionItem.max_expires_at.does_not_exist() | (SessionItem.max_expires_at > int(now))),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return to_session(item)

    def delete(self, session_id: str, user_id: str | None = None) -> bool:
        """Delete a session (only the owner's when ``user_id`` is given); False when there was none."""
        item = SessionItem(pk=keys.session_pk(session_id), sk=keys.SESSION)
        condition = SessionItem.pk.exists()
        if user_id is not None:
            condition = condition & (SessionItem.user_id == user_id)
        return conditionally(lambda: item.delete(condition=condition))

    def list_for_user(self, user_id: str) -> list[Session]:
        """Every session of a user, oldest first (one Query on GSI1)."""
        return [
            to_session(item)
            for item in SessionItem.gsi1.query(keys.user_pk(user_id), SessionItem.gsi1sk.startswith("SESSION#"))
            if isinstance(item, SessionItem)
        ]

    def delete_many(self, session_ids: list[str]) -> int:
        """Delete sessions in batches of 25; returns how many were asked for."""
        for batch in chunks(session_ids, 25):
            with SessionItem.batch_write() as writer:
                for sid in batch:
                    writer.delete(SessionItem(pk=keys.session_pk(sid), sk=keys.SESSION))
        return len(session_ids)
