"""Authorization codes of the sign-in center: ``OCODE#<hash>`` items, redeemed once.

Access patterns: put a new code (conditional: never over another); redeem it with one conditional
update (not used yet, not expired) that returns what it was issued for; on a refused redemption, read it
to tell a replay (the code was used: RFC 6749 section 4.1.2 asks to revoke what it produced) from an
unknown or expired code; record the session a redemption opened.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from shared.db import keys
from shared.db.models import AuthCodeItem
from shared.db.table import Table, is_condition_failure


class AuthCodeRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, code_hash: str, grant: dict[str, Any], expires_at: float) -> None:
        AuthCodeItem(
            pk=keys.auth_code_pk(code_hash),
            sk=keys.OCODE,
            grant=grant,
            expires_at=int(expires_at),
            ttl=int(expires_at) + 3600,  # kept an hour past expiry: a late replay is still recognised
        ).save(condition=AuthCodeItem.pk.does_not_exist())

    def redeem(self, code_hash: str, now: float) -> dict[str, Any] | None:
        """The grant of an unused, unexpired code, marking it used (of concurrent redemptions exactly one
        gets it); None otherwise."""
        item = AuthCodeItem(pk=keys.auth_code_pk(code_hash), sk=keys.OCODE)
        try:
            item.update(
                actions=[AuthCodeItem.used_at.set(int(now))],
                condition=AuthCodeItem.pk.exists()
                & AuthCodeItem.used_at.does_not_exist()
                & (AuthCodeItem.expires_at > int(now)),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return dict(item.grant or {})

    def replayed_session(self, code_hash: str) -> str | None:
        """When the code was already redeemed: the session that redemption opened (None otherwise)."""
        try:
            item = AuthCodeItem.get(keys.auth_code_pk(code_hash), keys.OCODE, consistent_read=True)
        except DoesNotExist:
            return None
        return str(item.session_id) if item.used_at is not None and item.session_id else None

    def record_session(self, code_hash: str, session_id: str) -> None:
        AuthCodeItem(pk=keys.auth_code_pk(code_hash), sk=keys.OCODE).update(
            actions=[AuthCodeItem.session_id.set(session_id)]
        )
