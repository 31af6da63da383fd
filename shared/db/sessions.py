"""Session items: read with the user item and the app's role definitions (one BatchGetItem) by the
authorizer and verify-token, rotated with one conditional update per refresh.

Access patterns: get a session with what decides its rights (``SESSION#<id>``, ``USER#<id>/PROFILE``,
``APP#<app>/ROLES``), rotate its refresh token with a condition on the presented hash (exactly one of
concurrent refreshes writes; the others answer within the leeway), get a user's sessions by id (the ids
are listed on the user item), delete them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, UpdateError

from shared.db import keys
from shared.db.apps import complete_defs
from shared.db.models import BaseItem, RoleDefsItem, SessionItem, UserItem
from shared.db.table import Table, chunks, conditionally, is_condition_failure
from shared.domain import RoleDefs, Session


def session_item(session: Session) -> SessionItem:
    return SessionItem(
        pk=keys.session_pk(session.session_id),
        sk=keys.SESSION,
        session_id=session.session_id,
        user_id=session.user_id,
        app_name=session.app_name,
        rev=session.rev,
        successor_box=session.successor_box or None,
        refresh_hash=session.refresh_hash,
        prev_hash=session.prev_hash,
        rotated_at=int(session.rotated_at) if session.rotated_at is not None else None,
        generation=session.generation,
        previous_hashes=list(session.previous_hashes),
        created_at=int(session.created_at),
        last_used_at=int(session.last_used_at),
        expires_at=int(session.expires_at),
        max_expires_at=int(session.max_expires_at) if session.max_expires_at else None,
        ip=session.ip,
        user_agent=session.user_agent,
        scope=list(session.scope) or None,
        ttl=int(session.effective_expiry()),
    )


def to_session(item: SessionItem) -> Session:
    return Session(
        session_id=item.session_id,
        user_id=item.user_id,
        app_name=item.app_name,
        roles=[],
        permissions=[],
        refresh_hash=item.refresh_hash,
        generation=int(item.generation or 0),
        previous_hashes=list(item.previous_hashes or []),
        created_at=item.created_at,
        last_used_at=item.last_used_at,
        expires_at=item.expires_at,
        max_expires_at=item.max_expires_at,
        ip=item.ip,
        user_agent=item.user_agent,
        rev=int(item.rev or 0),
        successor_box=item.successor_box or "",
        prev_hash=item.prev_hash,
        rotated_at=float(item.rotated_at) if item.rotated_at is not None else None,
        scope=list(item.scope or []),
    )


@dataclass(frozen=True)
class Holder:
    """What the authorizer needs of the user item: status, sessions epoch, roles in the session's app."""

    status: str
    rev: int
    roles: dict[str, str]


@dataclass(frozen=True)
class SessionState:
    session: Session | None
    holder: Holder | None
    defs: RoleDefs


class SessionRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, session_id: str) -> Session | None:
        try:
            return to_session(SessionItem.get(keys.session_pk(session_id), keys.SESSION, consistent_read=True))
        except DoesNotExist:
            return None

    def state(self, session_id: str, user_id: str, app_name: str) -> SessionState:
        """The session, its user's status, ``rev`` and roles in ``app_name``, and the app's role
        definitions: one BatchGetItem (strongly consistent), the authorizer's only round trip."""
        wanted = [
            (keys.session_pk(session_id), keys.SESSION),
            (keys.user_pk(user_id), keys.PROFILE),
            keys.role_defs_copy(app_name, user_id),
        ]
        session: Session | None = None
        holder: Holder | None = None
        found: dict[str, RoleDefsItem] = {}
        for item in BaseItem.batch_get(wanted, consistent_read=True):
            if isinstance(item, SessionItem):
                session = to_session(item)
            elif isinstance(item, UserItem):
                held = (item.roles or {}).get(app_name) or {}
                holder = Holder(item.status, int(item.rev or 0), {str(c): str(e) for c, e in held.items()})
            elif isinstance(item, RoleDefsItem):
                found[app_name] = item
        if session is None or holder is None:  # refused anyway: no need for the definitions
            return SessionState(session, holder, RoleDefs(app_name))
        return SessionState(session, holder, complete_defs([app_name], found, consistent=True)[app_name])

    def get_many(self, session_ids: list[str]) -> list[Session]:
        """Sessions by id (BatchGetItem, 100 keys a request); missing ones are left out."""
        wanted = [(keys.session_pk(sid), keys.SESSION) for sid in dict.fromkeys(session_ids)]
        found = {i.session_id: to_session(i) for i in SessionItem.batch_get(wanted) if isinstance(i, SessionItem)}
        return [found[sid] for sid in session_ids if sid in found]

    def rotate(
        self,
        session_id: str,
        presented_hash: str,
        new_hash: str,
        successor_box: str,
        *,
        now: float,
        expires_at: float,
        generation: int,
        slot: int,
    ) -> Session | None:
        """Swap the refresh hash if ``presented_hash`` is current and unexpired; None when it is not.

        The presented hash becomes ``prev_hash`` and the sealed successor ``successor_box`` (answered
        again within the leeway); the presented hash also goes to slot
        ``slot`` (the old generation modulo the memory size) of the ``previous_hashes`` ring, so a
        replay of any of the last N tokens after the leeway is recognised as reuse.
        """
        item = SessionItem(pk=keys.session_pk(session_id), sk=keys.SESSION)
        try:
            item.update(
                actions=[
                    SessionItem.refresh_hash.set(new_hash),
                    SessionItem.prev_hash.set(presented_hash),
                    SessionItem.successor_box.set(successor_box),
                    SessionItem.rotated_at.set(int(now)),
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

    def delete_many(self, session_ids: list[str]) -> int:
        """Delete sessions in batches of 25; returns how many were asked for."""
        for batch in chunks(session_ids, 25):
            with SessionItem.batch_write() as writer:
                for sid in batch:
                    writer.delete(SessionItem(pk=keys.session_pk(sid), sk=keys.SESSION))
        return len(session_ids)
