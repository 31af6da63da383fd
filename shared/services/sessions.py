"""Sessions: open, refresh with rotation and reuse detection, check, list and revoke.

A session backs one refresh-token family and every access token issued from it; deleting it revokes
them all (within the authorizer cache time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from shared.clock import Clock, IdFactory, iso, new_id, system_clock
from shared.db.sessions import SessionRepository
from shared.domain import ClientInfo, RoleGrant, Session
from shared.errors import RefreshTokenReusedError, TokenExpiredError, TokenInvalidError, TokenRevokedError
from shared.services.tokens import AccessClaims, TokenService, new_refresh_token, split_refresh_token


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
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.refresh_ttl = refresh_ttl
        self.max_lifetime = max_lifetime
        self.reuse_memory = reuse_memory
        self.clock = clock
        self.ids = ids

    def new(self, user_id: str, app_name: str, grants: list[RoleGrant], client: ClientInfo) -> TokenPair:
        """A session (not yet stored: the caller writes it in its own transaction) and its tokens."""
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
        )
        access, expires_in = self.tokens.issue_access(user_id, session_id, app_name, roles)
        return TokenPair(access, refresh, expires_in, session)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token: exactly one of many concurrent uses wins.

        Raises:
            RefreshTokenReusedError: the token was already used; the session is now revoked.
            TokenExpiredError: the session is past its refresh lifetime.
            TokenInvalidError: the token is malformed or unknown.
        """
        parts = split_refresh_token(refresh_token)
        if parts is None:
            raise TokenInvalidError()
        session_id, generation, presented_hash = parts
        now = self.clock()
        new_token, new_hash = new_refresh_token(session_id, generation + 1)
        session = self.sessions.rotate(
            session_id,
            presented_hash,
            new_hash,
            now=now,
            expires_at=now + self.refresh_ttl,
            generation=generation + 1,
            slot=generation % self.reuse_memory,
        )
        if session is None:
            self._explain_refusal(session_id, presented_hash, now)
        access, expires_in = self.tokens.issue_access(session.user_id, session_id, session.app_name, session.roles)
        return TokenPair(access, new_token, expires_in, session)

    def _explain_refusal(self, session_id: str, presented_hash: str, now: float) -> NoReturn:
        session = self.sessions.get(session_id)
        if session is None:
            raise TokenInvalidError()
        if presented_hash in session.previous_hashes:
            self.sessions.delete(session_id)
            raise RefreshTokenReusedError()
        if session.effective_expiry() <= now:
            raise TokenExpiredError()
        raise TokenInvalidError()

    def check(self, claims: AccessClaims) -> Session:
        """The live session behind verified access-token claims.

        Raises:
            TokenRevokedError: the session was deleted, expired, or belongs to someone else.
        """
        session = self.sessions.get(claims.session_id)
        if session is None or session.user_id != claims.user_id or session.effective_expiry() <= self.clock():
            raise TokenRevokedError()
        return session

    def verify(self, token: str) -> tuple[AccessClaims, Session]:
        """Verify an access token and its session (verify-token route)."""
        claims = self.tokens.verify_access(token)
        return claims, self.check(claims)

    def list_sessions(self, user_id: str, current_session_id: str | None) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            {
                "session_id": s.session_id,
                "app_name": s.app_name,
                "created_at": iso(s.created_at),
                "last_used_at": iso(s.last_used_at),
                "expires_at": iso(s.effective_expiry()),
                "ip": s.ip,
                "user_agent": s.user_agent,
                "current": s.session_id == current_session_id,
            }
            for s in self.sessions.list_for_user(user_id)
            if s.effective_expiry() > now
        ]

    def revoke(self, user_id: str, session_id: str) -> int:
        """Delete one of the user's sessions; 0 when it was not theirs or not there."""
        return 1 if self.sessions.delete(session_id, user_id=user_id) else 0

    def revoke_all(self, user_id: str, keep: str | None = None) -> int:
        """Delete every session of the user except ``keep``."""
        return self.sessions.delete_many(self.other_session_ids(user_id, keep))

    def delete_ids(self, session_ids: list[str]) -> int:
        """Delete sessions by id (already known to be the user's)."""
        return self.sessions.delete_many(session_ids)

    def other_session_ids(self, user_id: str, keep: str | None) -> list[str]:
        return [s.session_id for s in self.sessions.list_for_user(user_id) if s.session_id != keep]
