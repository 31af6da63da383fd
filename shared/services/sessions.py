"""Sessions: open, refresh with rotation and reuse detection, check, list and revoke.

A session backs one refresh-token family and every access token issued from it; deleting it revokes
them all (within the authorizer cache time).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, NoReturn

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db.sessions import SessionRepository
from shared.domain import ClientInfo, RoleGrant, Session
from shared.errors import RefreshTokenReusedError, TokenExpiredError, TokenInvalidError, TokenRevokedError
from shared.services.tokens import (
    AccessClaims,
    TokenService,
    hash_secret,
    new_refresh_token,
    open_successor,
    seal_successor,
    split_refresh_token,
)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session: Session

    def as_data(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def authorization_of(grants: list[RoleGrant]) -> tuple[list[str], list[str]]:
    """Role codes and the union of permissions of ``grants`` (all of one app), sorted."""
    roles = sorted({g.role_code for g in grants})
    permissions = sorted({p for g in grants for p in g.permissions})
    return roles, permissions


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        tokens: TokenService,
        *,
        refresh_ttl: int,
        max_lifetime: int | None = None,
        reuse_memory: int = 20,
        reuse_leeway: int = 10,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.refresh_ttl = refresh_ttl
        self.max_lifetime = max_lifetime
        self.reuse_memory = reuse_memory
        self.reuse_leeway = reuse_leeway
        self.clock = clock
        self.ids = ids

    def new(
        self,
        user_id: str,
        app_name: str,
        grants: list[RoleGrant],
        client: ClientInfo,
        rev: int = 0,
        scope: list[str] | None = None,
    ) -> TokenPair:
        """A session (not yet stored: the caller writes it in its own transaction) and its tokens.

        ``rev`` is the user's sessions epoch as read: the session is valid while the user's stays equal.
        """
        now = self.clock()
        session_id = self.ids()
        refresh, refresh_hash = new_refresh_token(session_id)
        roles, permissions = authorization_of([g for g in grants if g.app_name == app_name])
        max_expires_at = now + self.max_lifetime if self.max_lifetime else None
        session = Session(
            session_id=session_id,
            user_id=user_id,
            app_name=app_name,
            roles=roles,
            permissions=permissions,
            refresh_hash=refresh_hash,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.refresh_ttl,
            max_expires_at=max_expires_at,
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
            rev=rev,
            scope=list(scope or []),
        )
        access, expires_in = self.tokens.issue_access(user_id, session_id, app_name, roles)
        return TokenPair(access, refresh, expires_in, session)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token. Of concurrent refreshes with one token, one rotates it and the others,
        within ``reuse_leeway`` seconds, answer with the same successor (the family never forks); a
        token used again after that revokes the session.

        Raises:
            RefreshTokenReusedError: the token was already used; the session is now revoked.
            TokenExpiredError: the session is past its refresh lifetime.
            TokenRevokedError: the user's rights changed (password, status) since the session began.
            TokenInvalidError: the token is malformed or unknown.
        """
        parts = split_refresh_token(refresh_token)
        if parts is None:
            raise TokenInvalidError()
        session_id, generation, presented_hash = parts
        now = self.clock()
        successor, successor_hash = new_refresh_token(session_id, generation + 1)
        session = self.sessions.rotate(
            session_id,
            presented_hash,
            successor_hash,
            seal_successor(refresh_token, successor),
            now=now,
            expires_at=now + self.refresh_ttl,
            generation=generation + 1,
            slot=generation % self.reuse_memory,
        )
        if session is None:  # not the current token: a concurrent refresh within the leeway, or refused
            session = self.sessions.get(session_id)
            if session is None:
                raise TokenInvalidError()
            repeated = self._within_leeway(session, refresh_token, presented_hash, now)
            if repeated is None:
                self._explain_refusal(session, presented_hash, now)
            successor = repeated
        state = self.sessions.state(session_id, session.user_id, session.app_name)
        holder = state.holder
        if holder is None or holder.status != "active" or holder.rev != session.rev:
            self.sessions.delete(session_id)
            raise TokenRevokedError()
        roles, _ = authorization_of(state.defs.grants(holder.roles))
        access, expires_in = self.tokens.issue_access(session.user_id, session_id, session.app_name, roles)
        return TokenPair(access, successor, expires_in, session)

    def _within_leeway(self, session: Session, presented: str, presented_hash: str, now: float) -> str | None:
        """The successor, when ``presented`` is the token rotated away last, within the leeway, and its
        successor is still the current token; else None."""
        if (
            session.prev_hash != presented_hash
            or not session.successor_box
            or session.rotated_at is None
            or now - session.rotated_at > self.reuse_leeway
            or session.effective_expiry() <= now
        ):
            return None
        successor = open_successor(presented, session.successor_box)
        return successor if successor is not None and hash_secret(successor) == session.refresh_hash else None

    def _explain_refusal(self, session: Session, presented_hash: str, now: float) -> NoReturn:
        if presented_hash == session.prev_hash or presented_hash in session.previous_hashes:
            self.sessions.delete(session.session_id)
            raise RefreshTokenReusedError()
        if session.effective_expiry() <= now:
            raise TokenExpiredError()
        raise TokenInvalidError()

    def check(self, claims: AccessClaims) -> Session:
        """The live session behind verified access-token claims, with what it grants now.

        One BatchGetItem: the session, the user item (status, sessions epoch, roles in the token's app)
        and the app's role definitions.

        Raises:
            TokenRevokedError: the session was deleted or expired, belongs to someone else, or the user
                is gone, disabled, or changed credentials since it began.
        """
        state = self.sessions.state(claims.session_id, claims.user_id, claims.app_name)
        session, holder = state.session, state.holder
        if (
            session is None
            or session.user_id != claims.user_id
            or session.app_name != claims.app_name
            or session.effective_expiry() <= self.clock()
            or holder is None
            or holder.status != "active"
            or holder.rev != session.rev
        ):
            raise TokenRevokedError()
        session.roles, session.permissions = authorization_of(state.defs.grants(holder.roles))
        return session

    def verify(self, token: str) -> tuple[AccessClaims, Session]:
        """Verify an access token and its session (verify-token route)."""
        claims = self.tokens.verify_access(token)
        return claims, self.check(claims)

    def holds(self, session: Session, refresh_token: str) -> bool:
        """True when ``refresh_token`` is ``session``'s current one (constant-time comparison)."""
        parts = split_refresh_token(refresh_token)
        return (
            parts is not None and parts[0] == session.session_id and hmac.compare_digest(parts[2], session.refresh_hash)
        )

    def list_sessions(self, session_ids: list[str], rev: int) -> list[Session]:
        """The user's live sessions (``session_ids`` from the user item; ``rev`` its sessions epoch)."""
        now = self.clock()
        return [s for s in self.sessions.get_many(session_ids) if s.effective_expiry() > now and s.rev == rev]

    def revoke(self, user_id: str, session_id: str) -> int:
        """Delete one of the user's sessions; 0 when it was not theirs or not there."""
        return 1 if self.sessions.delete(session_id, user_id=user_id) else 0

    def delete_ids(self, session_ids: list[str]) -> int:
        """Delete sessions by id (already known to be the user's), in batches."""
        return self.sessions.delete_many(session_ids)

    def free(self, session_ids: list[str]) -> int:
        """Delete sessions a ``rev`` bump has already ended: clean-up only. The change that ended them
        has committed and they are invalid everywhere, so a failure here is logged, not raised (the
        caller's answer stays right); TTL removes what it leaves. Returns how many were listed."""
        from pynamodb.exceptions import PynamoDBException

        try:
            self.sessions.delete_many(session_ids)
        except PynamoDBException:
            from shared.observability import logger

            logger.warning("ended sessions not deleted; TTL will remove them", extra={"sessions": len(session_ids)})
        return len(session_ids)
