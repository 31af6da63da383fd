"""The OpenID Connect provider on Authlib's framework-independent ``AuthorizationServer`` (issue 11).

Authlib does the protocol: authorization request validation (client, exact redirect URI, response type,
scope, PKCE, nonce, prompt), client authentication at the token and revocation endpoints
(``client_secret_basic``, ``client_secret_post``, ``none`` for public clients), the code and refresh
grants, RFC 7009 revocation, RP-initiated logout, RFC 9207 ``iss`` and the error responses. What it
stores and reads goes through ``SignInCenter`` (``shared.services.center``). Where Authlib is laxer
than the center, the center tightens it here: PKCE with ``S256`` for every client (``plain`` refused,
a missing challenge refused), ``openid`` required, ``prompt`` only ``none`` or ``login``, bounded
parameter lengths, a code redeemed atomically (used up by the first presentation, whatever follows).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from requests.structures import CaseInsensitiveDict

from shared.domain import AppConfig, ClientInfo
from shared.errors import AppError
from shared.services.apps import client_secret_matches
from shared.services.auth_codes import CodeGrant, valid_challenge
from shared.services.center import GrantRefused, SignedOut, SignInCenter
from shared.services.oidc import SCOPES
from shared.services.sessions import SessionService
from shared.services.tokens import split_refresh_token

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
MAX_PARAM = 2048  # characters of any one parameter (a URL stays well under API Gateway's limits)
LIMITS = {"state": 1024, "nonce": 512, "login_hint": 254, "ui_locales": 128, "max_age": 10, "prompt": 64}


class Client(ClientMixin):  # type: ignore[misc]
    """An app as an OAuth client: ``client_id`` is the app's name."""

    def __init__(self, app: AppConfig) -> None:
        self.app = app

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.app.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.app.app_name

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is required: no default to fall back on

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in dict.fromkeys(scope_to_list(scope) or []) if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris  # exact match, no prefixes or patterns

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret_matches(self.app, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.client_type == "confidential":
            return method in ("client_secret_basic", "client_secret_post")
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class EventPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._datalist = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._datalist.items() if v}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._datalist)


class EventRequest(OAuth2Request):  # type: ignore[misc]
    """An API Gateway event as Authlib's request: query parameters and form fields (the body arrives as
    the JSON object ``shared.http.serve`` makes of a form)."""

    def __init__(self, event: dict[str, Any], uri: str, form: dict[str, str], info: ClientInfo) -> None:
        headers = CaseInsensitiveDict(event.get("headers") or {})
        super().__init__(str(event.get("httpMethod") or "GET").upper(), uri, headers=headers)
        self.event = event
        self.info = info
        query = event.get("multiValueQueryStringParameters") or {
            k: [v] for k, v in (event.get("queryStringParameters") or {}).items()
        }
        values: dict[str, list[str]] = {k: list(v) for k, v in query.items()}
        for key, value in form.items():
            values.setdefault(key, []).append(value)
        for key, listed in values.items():
            if any(len(v) > LIMITS.get(key, MAX_PARAM) for v in listed):
                raise InvalidRequestError(f"'{key}' is too long")
        self._query = {k: v[0] for k, v in query.items() if v}
        self._form = dict(form)
        self.payload = EventPayload(values)

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class Answer:
    """What an endpoint answers: status, body (a dict for JSON), headers (``location`` for redirects)."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "location"] + [("Location", value)]


class StoredCode:
    """A redeemed code as Authlib reads it (its ID token claims come from ``IdToken``, not from here)."""

    def __init__(self, code: str, grant: CodeGrant) -> None:
        self.code = code
        self.grant = grant
        self.code_challenge = grant.code_challenge
        self.code_challenge_method = "S256"

    def get_redirect_uri(self) -> str:
        return self.grant.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.grant.scope)


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 with ``S256`` required of every client: Authlib would let a request without a challenge
    through, and accept ``plain``."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not valid_challenge(data.get("code_challenge"), data.get("code_challenge_method")):
            raise InvalidRequestError("PKCE is required: code_challenge with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


def center_rules(grant: Any, redirect_uri: str) -> None:
    """What the center asks of an authorization request beyond Authlib's checks."""
    data = grant.request.payload.data
    if "openid" not in scope_to_list(data.get("scope") or ""):
        raise InvalidScopeError("scope must include openid")
    if data.get("prompt") not in (None, "none", "login"):
        raise InvalidRequestError("prompt must be none or login")
    max_age = data.get("max_age")
    if max_age is not None and not max_age.isdigit():
        raise InvalidRequestError("max_age must be a number of seconds")


class CodeFlow(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant over the center's codes: 60 s, single use, bound to client, redirect
    URI and PKCE verifier; the token is an app session for the client's app."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: Provider

    def __init__(self, request: OAuth2Request, server: Provider) -> None:
        super().__init__(request, server)
        self.register_hook("after_validate_authorization_request_payload", center_rules)

    def save_authorization_code(self, code: str, request: EventRequest) -> None:
        session = request.user  # the center session that answers the request
        data = request.payload.data
        grant = CodeGrant(
            client_id=request.client.get_client_id(),
            redirect_uri=data["redirect_uri"],
            code_challenge=data["code_challenge"],
            user_id=session.user_id,
            center_session=session.cookie_hash,
            sid=session.sid,
            auth_time=int(session.auth_time),
            scope=scope_to_list(request.scope) or [],
            nonce=data.get("nonce"),
            amr=list(session.amr),
            ip=request.info.ip,
            user_agent=(request.info.user_agent or "")[:512] or None,
        )
        self.server.center.issue_code(code, grant)

    def query_authorization_code(self, code: str, client: Client) -> StoredCode | None:
        # Redeemed (used up) here, atomically, with every binding checked at once: Authlib's own checks
        # of the redirect URI and the verifier that follow can only agree.
        form = self.request.form
        try:
            grant = self.server.center.redeem(
                code, client.get_client_id(), form.get("redirect_uri"), form.get("code_verifier")
            )
        except GrantRefused:
            return None
        return StoredCode(code, grant)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing left to delete: the code was used up when it was read."""

    def authenticate_user(self, authorization_code: StoredCode) -> StoredCode:
        return authorization_code

    def generate_token(self, user: StoredCode, scope: str, **_: Any) -> dict[str, Any]:
        try:
            # The app session is the browser's (its address and User-Agent when the code was issued), not
            # that of the client's back end exchanging the code.
            browser = ClientInfo(ip=user.grant.ip, user_agent=user.grant.user_agent)
            signed_in = self.server.center.open_app_session(user.code, user.grant, browser)
        except GrantRefused as exc:
            raise InvalidGrantError(str(exc)) from exc
        self.request.signed_in = signed_in
        tokens = signed_in.tokens
        return {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "scope": scope,
        }


class IdToken(OpenIDCode):  # type: ignore[misc]
    """The ID token, signed with the key ring the access tokens use (``kid``), with ``sid`` and ``amr``."""

    def __init__(self, server: Provider) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return False  # a nonce is the client's to check; codes are single use anyway

    def encode_id_token(self, token: dict[str, Any], request: EventRequest) -> str:
        code: StoredCode = request.authorization_code
        return self.server.center.id_token(self.server.issuer, code.grant, request.signed_in.record.user)


@dataclass
class RefreshCredential:
    session_id: str
    app_name: str
    scope: list[str]

    def check_client(self, client: Client) -> bool:
        return client.get_client_id() == self.app_name

    def get_scope(self) -> str:
        return " ".join(self.scope)


class RefreshFlow(grants.RefreshTokenGrant):  # type: ignore[misc]
    """The refresh grant over the existing rotating refresh tokens (reuse detection included), for
    sessions the center opened for this client."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: Provider

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        parts = split_refresh_token(refresh_token)
        session = self.server.sessions.sessions.get(parts[0]) if parts else None
        if session is None or "openid" not in session.scope:
            return None
        return RefreshCredential(session.session_id, session.app_name, session.scope)

    def authenticate_user(self, refresh_token: RefreshCredential) -> RefreshCredential:
        return refresh_token

    def generate_token(self, user: RefreshCredential, scope: str, **_: Any) -> dict[str, Any]:
        try:
            pair = self.server.sessions.refresh(self.request.form.get("refresh_token", ""))
        except AppError as exc:  # reused (the session is now ended), expired, revoked, unknown
            raise InvalidGrantError("the refresh token does not refresh") from exc
        return {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
            "refresh_token": pair.refresh_token,
            "scope": " ".join(user.scope),
        }

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Nothing to do: rotation retired the old token."""


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a refresh or access token ends its app session (an unknown token is not an error)."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: Provider

    def query_token(self, token_string: str, token_type_hint: str | None) -> RefreshCredential | None:
        sessions = self.server.sessions
        parts = split_refresh_token(token_string)
        if parts is not None:
            session = sessions.sessions.get(parts[0])
            if session is None or not sessions.holds(session, token_string):
                return None
            return RefreshCredential(session.session_id, session.app_name, session.scope)
        try:
            claims = sessions.tokens.verify_access(token_string)
        except AppError:
            return None
        return RefreshCredential(claims.session_id, claims.app_name, [])

    def revoke_token(self, token: RefreshCredential, request: OAuth2Request) -> None:
        self.server.sessions.delete_ids([token.session_id])


class Logout(EndSessionEndpoint):  # type: ignore[misc]
    """RP-initiated logout: ``id_token_hint`` (signature checked with the JWKS, expiry ignored as the
    spec allows), ``post_logout_redirect_uri`` only from the client's list, ``state`` passed back."""

    server: Provider

    def get_server_jwks(self) -> dict[str, Any]:
        return self.server.jwks

    def is_post_logout_redirect_uri_legitimate(
        self, request: EventRequest, post_logout_redirect_uri: str, client: Client, logout_hint: str | None
    ) -> bool:
        return bool(getattr(request, "confirmed", False))  # the person confirmed on the center's page

    def end_session(self, end_session_request: Any) -> None:
        request: EventRequest = end_session_request.request
        request.signed_out = self.server.sign_out(request)


class Provider(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server (cheap to build: grants and endpoints are classes)."""

    def __init__(
        self,
        center: SignInCenter,
        sessions: SessionService,
        issuer: str,
        jwks: dict[str, Any],
        cookie: str | None = None,
    ) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.center = center
        self.sessions = sessions
        self.issuer = issuer
        self.jwks = jwks
        self.cookie = cookie
        self.register_grant(CodeFlow, [S256Challenge(required=True), IdToken(self)])
        self.register_grant(RefreshFlow)
        self.register_endpoint(Revocation)
        self.register_endpoint(Logout)
        self.register_extension(Issuer(issuer))

    def query_client(self, client_id: str | None) -> Client | None:
        app = self.center.client(client_id)
        return Client(app) if app else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: the app session was written when the token was made."""

    def create_oauth2_request(self, request: EventRequest) -> EventRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Answer:
        return Answer(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: nothing listens."""

    def sign_out(self, request: EventRequest) -> SignedOut | None:
        return self.center.sign_out(self.cookie)

    def redirect_error(self, error: OAuth2Error, state: str | None) -> str:
        """The client's redirect URI with an error (RFC 6749 4.1.2.1), ``state`` and ``iss``."""
        params = [("error", error.error)]
        if error.description:
            params.append(("error_description", error.description))
        if state:
            params.append(("state", state))
        params.append(("iss", self.issuer))
        return with_params(str(error.redirect_uri), params)


class Issuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: ``iss`` in every authorization response."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def with_params(uri: str, params: list[tuple[str, str]]) -> str:
    """``uri`` with ``params`` added to its query (its own parameters kept)."""
    base, _, fragment = uri.partition("#")
    path, _, query = base.partition("?")
    merged = [*parse_qsl(query, keep_blank_values=True), *params]
    return f"{path}?{urlencode(merged)}" + (f"#{fragment}" if fragment else "")
