"""The sign-in center's own session: what makes single sign-on work (issue 11).

A browser that signed in at the center holds an opaque value in a ``__Host-`` cookie (Secure, HttpOnly,
SameSite=Lax); the table keeps the value's SHA-256 only. The session counts while it is within its idle
and absolute lifetimes and its user is active with the sessions epoch (``rev``) it began under, so a
password change, a disable or "sign out everywhere" ends it like every other session. It remembers the
app session it opened for each client, which single logout ends.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import replace

from shared.clock import Clock, system_clock
from shared.db.center_sessions import CenterSession, CenterSessionRepository
from shared.db.codes import CodeUsedError, Consumable
from shared.db.users import UserItemChange
from shared.errors import CodeInvalidError

COOKIE = "__Host-uc_center"
IDLE_SECONDS = 24 * 3600
MAX_SECONDS = 7 * 24 * 3600
TOUCH_EVERY = 60  # seconds between two writes of the idle expiry


def cookie_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class CenterSessions:
    def __init__(
        self,
        repository: CenterSessionRepository,
        clock: Clock = system_clock,
        idle_seconds: int = IDLE_SECONDS,
        max_seconds: int = MAX_SECONDS,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def open(
        self,
        user_id: str,
        rev: int,
        amr: list[str],
        clear_failures: bool = False,
        consume: Sequence[Consumable] = (),
        changes: Sequence[UserItemChange] = (),
    ) -> tuple[str, CenterSession]:
        """A new center session for a user who just signed in (``amr``: how; ``clear_failures``: after a
        password, its reserved attempts are cleared in the same write; ``consume``: the codes that proved
        it, used in that write). Returns the cookie value, which nothing stores, and the session.

        Raises:
            CodeInvalidError: a code of ``consume`` was used meanwhile.
            StaleRecordError: a change's condition failed (the second factor was used meanwhile).
        """
        value = secrets.token_urlsafe(32)
        now = self.clock()
        session = CenterSession(
            cookie_hash=cookie_hash(value),
            sid=secrets.token_urlsafe(16),
            user_id=user_id,
            rev=rev,
            auth_time=now,
            amr=list(amr),
            idle_expires_at=now + self.idle_seconds,
            expires_at=now + self.max_seconds,
        )
        try:
            self.repository.put(session, clear_failures, consume, changes)
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        return value, session

    def current(self, cookie_value: str | None, max_age: int | None = None) -> CenterSession | None:
        """The session of a cookie, when it still counts: unexpired (idle and absolute), its user active
        and still on the epoch it began under, and (``max_age``, OpenID ``max_age``) signed in recently
        enough. Extends the idle lifetime, at most once a minute."""
        if not cookie_value or len(cookie_value) > 128:
            return None
        return self.counting(cookie_hash(cookie_value), max_age)

    def counting(self, session_key: str, max_age: int | None = None) -> CenterSession | None:
        """:meth:`current` by the session's key (its cookie value's hash), as a code remembers it."""
        session, user = self.repository.with_user(session_key)
        now = self.clock()
        if session is None or user is None:
            return None
        if now >= session.idle_expires_at or now >= session.expires_at:
            return None
        if user.status != "active" or int(user.rev or 0) != session.rev:
            return None
        if max_age is not None and now - session.auth_time > max_age:
            return None
        idle = min(now + self.idle_seconds, session.expires_at)
        if idle - session.idle_expires_at >= TOUCH_EVERY:
            self.repository.touch(session.cookie_hash, idle)
            session = replace(session, idle_expires_at=idle)
        return session

    def signed_in_to(self, session_key: str, client_id: str, app_session_id: str) -> None:
        """Remember the app session a client got through a center session (``session_key``: its
        ``cookie_hash``); single logout ends it."""
        self.repository.add_client(session_key, client_id, app_session_id)

    def end(self, cookie_value: str | None) -> CenterSession | None:
        """End the session of a cookie; what it was, with the clients to sign out (None: no session)."""
        if not cookie_value or len(cookie_value) > 128:
            return None
        return self.repository.delete(cookie_hash(cookie_value))
