"""Authorization codes for the sign-in center's code flow (RFC 6749 section 4.1, RFC 7636 PKCE).

A code is 256 random bits, stored as its SHA-256 (a leaked table gives no usable code), valid
``CODE_TTL`` (60 s), redeemed once, and bound to its client, its exact redirect URI and its PKCE
challenge. Only ``S256`` is accepted: ``plain`` would hand the code's secret to whoever sees the
authorization request. Every refusal of a redemption is the same ``invalid_grant`` (nothing tells a
caller which check failed); a replayed code also names the session its first redemption opened, so the
token endpoint revokes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass, field

from shared.clock import Clock, system_clock
from shared.db.auth_codes import AuthCodeRepository

CODE_TTL = 60
VERIFIER_RE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 section 4.1
CHALLENGE_RE = re.compile(r"[A-Za-z0-9\-_]{43}")  # base64url of a SHA-256, unpadded


class InvalidGrantError(Exception):
    """The code, verifier, client or redirect URI does not redeem (OAuth ``invalid_grant``).
    ``replayed_session``: the session a first redemption of this code opened, to be revoked."""

    def __init__(self, replayed_session: str | None = None) -> None:
        super().__init__("invalid_grant")
        self.replayed_session = replayed_session


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code was issued for."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    user_id: str
    center_session: str  # the center session's key (its cookie value's hash): where the app session is noted
    sid: str  # the center session's public id (the ID token's ``sid``)
    auth_time: int
    scope: list[str] = field(default_factory=list)
    nonce: str | None = None
    amr: list[str] = field(default_factory=list)
    ip: str | None = None  # the browser's, shown with the app session on the account page
    user_agent: str | None = None


def s256(verifier: str) -> str:
    """The PKCE ``S256`` challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def valid_challenge(challenge: str | None, method: str | None) -> bool:
    """An authorization request's PKCE: required, ``S256`` only, well formed."""
    return method == "S256" and bool(challenge) and CHALLENGE_RE.fullmatch(challenge or "") is not None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class AuthCodeService:
    def __init__(self, codes: AuthCodeRepository, clock: Clock = system_clock, ttl: int = CODE_TTL) -> None:
        self.codes = codes
        self.clock = clock
        self.ttl = ttl

    def issue(self, grant: CodeGrant, code: str | None = None) -> str:
        """A code for ``grant`` (whose PKCE challenge the caller has checked with :func:`valid_challenge`):
        ``code`` when the protocol generated one (at least 256 random bits), else a new one."""
        code = code or secrets.token_urlsafe(32)
        self.codes.put(_hash(code), asdict(grant), self.clock() + self.ttl)
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None) -> CodeGrant:
        """The grant of ``code``, once, when presented by its client with its exact redirect URI and the
        verifier of its challenge. The code is used up even when a check after it fails (a code sent to
        the wrong place must not be tried again).

        Raises:
            InvalidGrantError: any check failed (``replayed_session`` set for a replay).
        """
        if not code or len(code) > 128:
            raise InvalidGrantError()
        code_hash = _hash(code)
        stored = self.codes.redeem(code_hash, self.clock())
        if stored is None:
            raise InvalidGrantError(self.codes.replayed_session(code_hash))
        grant = CodeGrant(**stored)
        presented = s256(verifier) if verifier and VERIFIER_RE.fullmatch(verifier) else ""
        checks = (
            hmac.compare_digest(grant.client_id, client_id or ""),
            hmac.compare_digest(grant.redirect_uri, redirect_uri or ""),
            hmac.compare_digest(grant.code_challenge, presented),
        )
        if not all(checks):
            raise InvalidGrantError()
        return grant

    def opened(self, code: str, session_id: str) -> None:
        """Record the session a redemption opened (what a replay of the code revokes)."""
        self.codes.record_session(_hash(code), session_id)
