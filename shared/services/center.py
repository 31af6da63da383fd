"""The sign-in center's OAuth 2.0 / OpenID Connect logic (issue 11), below the HTTP routes: checking an
authorization request, issuing its code to a signed-in browser, exchanging a code for tokens, userinfo.

Errors follow RFC 6749: an authorization request whose client or redirect URI is wrong is an error the
browser sees (``RequestRefused(redirect=False)``: never a redirect to an unchecked URI); any other
problem goes back to the client's redirect URI (``redirect=True``). The token endpoint answers
``invalid_client`` (401), ``invalid_grant`` and ``invalid_request`` (400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.db.center_sessions import CenterSession
from shared.domain import AppConfig, ClientInfo
from shared.errors import NotFoundError, ValidationError
from shared.services.accounts import AccountService, SignedIn
from shared.services.apps import AppDirectory, client_secret_matches
from shared.services.auth_codes import AuthCodeService, CodeGrant, InvalidGrantError, valid_challenge
from shared.services.center_sessions import CenterSessions
from shared.services.oidc import SCOPES, IdTokens
from shared.services.sessions import SessionService


class RequestRefused(Exception):
    """An OAuth error: ``error`` (RFC 6749 code), ``description``; ``redirect`` tells whether it goes
    back to the client (its redirect URI is known good) or is shown to the browser."""

    def __init__(self, error: str, description: str, redirect: bool = True, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.redirect, self.status = error, description, redirect, status


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request."""

    client: AppConfig
    redirect_uri: str
    scope: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: str | None = None
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    refresh_token: str
    id_token: str
    expires_in: int
    scope: list[str]

    def as_data(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
            "scope": " ".join(self.scope),
        }


def _one(params: dict[str, Any], name: str, limit: int = 512) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise RequestRefused("invalid_request", f"{name} is malformed")
    return value


class SignInCenter:
    def __init__(
        self,
        apps: AppDirectory,
        accounts: AccountService,
        sessions: SessionService,
        codes: AuthCodeService,
        center_sessions: CenterSessions,
        id_tokens: IdTokens,
    ) -> None:
        self.apps = apps
        self.accounts = accounts
        self.sessions = sessions
        self.codes = codes
        self.center_sessions = center_sessions
        self.id_tokens = id_tokens

    def client(self, client_id: str | None) -> AppConfig:
        """Raises: RequestRefused (not redirected): no such client."""
        try:
            app = self.apps.get(self.apps.resolve(client_id or ""))
        except (NotFoundError, ValidationError) as exc:  # a malformed name is no client either
            raise RequestRefused("invalid_client", "unknown client_id", redirect=False) from exc
        if not app.redirect_uris:
            raise RequestRefused("unauthorized_client", "the client has no redirect URI", redirect=False)
        return app

    def check_request(self, params: dict[str, Any]) -> AuthorizationRequest:
        """Check an authorization request (OpenID Connect Core 3.1.2.1), client and redirect URI first.

        Raises:
            RequestRefused: what is wrong, redirected to the client only once its redirect URI is known.
        """
        client = self.client(_one(params, "client_id", 64))
        redirect_uri = _one(params, "redirect_uri")
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            raise RequestRefused("invalid_request", "redirect_uri is not registered for the client", redirect=False)
        if _one(params, "response_type") != "code":
            raise RequestRefused("unsupported_response_type", "only response_type=code")
        scope = (_one(params, "scope") or "").split()
        if "openid" not in scope:
            raise RequestRefused("invalid_scope", "scope must include openid")
        challenge, method = _one(params, "code_challenge", 128), _one(params, "code_challenge_method", 16)
        if not valid_challenge(challenge, method):
            raise RequestRefused("invalid_request", "PKCE with code_challenge_method=S256 is required")
        prompt = _one(params, "prompt", 64)
        if prompt not in (None, "none", "login"):
            raise RequestRefused("invalid_request", "prompt must be none or login")
        max_age_text = _one(params, "max_age", 10)
        if max_age_text is not None and not max_age_text.isdigit():
            raise RequestRefused("invalid_request", "max_age must be a number of seconds")
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            scope=[s for s in dict.fromkeys(scope) if s in SCOPES],
            state=_one(params, "state", 1024),
            nonce=_one(params, "nonce", 512),
            code_challenge=str(challenge),
            prompt=prompt,
            max_age=int(max_age_text) if max_age_text is not None else None,
            login_hint=_one(params, "login_hint", 254),
            ui_locales=(_one(params, "ui_locales", 128) or "").split(),
        )

    def signed_in(self, request: AuthorizationRequest, cookie_value: str | None) -> CenterSession | None:
        """The center session that answers ``request`` without a sign-in page, if any.

        Raises:
            RequestRefused: ``prompt=none`` and no session fits (``login_required``, to the client).
        """
        session = None if request.prompt == "login" else self.center_sessions.current(cookie_value, request.max_age)
        if session is None and request.prompt == "none":
            raise RequestRefused("login_required", "no sign-in at the center")
        return session

    def issue_code(self, request: AuthorizationRequest, session: CenterSession) -> str:
        """The authorization code for a request answered by a center session."""
        grant = CodeGrant(
            client_id=request.client.app_name,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            user_id=session.user_id,
            center_session=session.cookie_hash,
            sid=session.sid,
            auth_time=int(session.auth_time),
            scope=request.scope,
            nonce=request.nonce,
            amr=session.amr,
        )
        return self.codes.issue(grant)

    def authenticate_client(self, client_id: str | None, secret: str | None) -> AppConfig:
        """The client at the token endpoint: a public one names itself; a confidential one proves its secret.

        Raises:
            RequestRefused: ``invalid_client`` (401).
        """
        try:
            client = self.client(client_id)
        except RequestRefused as exc:
            raise RequestRefused("invalid_client", "unknown client", status=401) from exc
        if client.client_type == "confidential" and not client_secret_matches(client, secret):
            raise RequestRefused("invalid_client", "client authentication failed", status=401)
        return client

    def exchange(
        self,
        issuer: str,
        client: AppConfig,
        code: str | None,
        redirect_uri: str | None,
        verifier: str | None,
        info: ClientInfo,
    ) -> TokenResponse:
        """Tokens for an authorization code: an app session for the client's app (its access token is the
        one the authorizer accepts), an ID token, and the app session remembered by the center session.

        Raises:
            RequestRefused: ``invalid_grant`` (a replayed code also ends the session its first use opened;
                a code whose center session ended meanwhile, a sign-out within its minute, gives nothing).
        """
        try:
            grant = self.codes.redeem(code or "", client.app_name, redirect_uri, verifier)
        except InvalidGrantError as exc:
            if exc.replayed_session:  # RFC 6749 4.1.2: what the code produced is revoked
                self.sessions.delete_ids([exc.replayed_session])
            raise RequestRefused("invalid_grant", "the code does not redeem") from exc
        if self.center_sessions.counting(grant.center_session) is None:
            raise RequestRefused("invalid_grant", "the sign-in behind the code has ended")
        try:
            record = self.accounts.get(grant.user_id, client.app_name)
        except NotFoundError as exc:
            raise RequestRefused("invalid_grant", "the user is gone") from exc
        if record.user.status != "active":
            raise RequestRefused("invalid_grant", "the user is disabled")
        signed_in: SignedIn = self.accounts.open_session(record, client.app_name, info, "center_login")
        self.codes.opened(code or "", signed_in.tokens.session.session_id)
        self.center_sessions.signed_in_to(grant.center_session, client.app_name, signed_in.tokens.session.session_id)
        id_token = self.id_tokens.issue(
            issuer,
            signed_in.record.user,
            client.app_name,
            auth_time=grant.auth_time,
            sid=grant.sid,
            amr=grant.amr,
            scope=grant.scope,
            nonce=grant.nonce,
        )
        tokens = signed_in.tokens
        return TokenResponse(tokens.access_token, tokens.refresh_token, id_token, tokens.expires_in, grant.scope)
