"""A relying party and a browser for the sign-in center's end-to-end tests, over plain HTTP: the
browser keeps cookies as Chromium does on loopback (``__Host-`` and ``Secure`` cookies included), and
the client makes PKCE requests and exchanges codes."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests


def form_with(page: requests.Response, method: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's form that holds a ``method`` button or field."""
    for form in re.findall(r'<form method="post" action="[^"]+">.*?</form>', page.text, flags=re.S):
        if f'name="method" value="{method}"' in form:
            action = html.unescape(re.search(r'action="([^"]+)"', form).group(1))  # type: ignore[union-attr]
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
            return action, {k: html.unescape(v) for k, v in hidden.items()}
    raise AssertionError(f"no form with method {method!r}")


USER_AGENT = "Mozilla/5.0 (TestBrowser) center-tests/1.0"


class Browser:
    """Cookies by name (``Max-Age=0`` deletes), no automatic redirects, ``Origin`` on form posts."""

    def __init__(self, base_url: str, lang: str = "zh-CN") -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.lang = lang
        self.prompts_skipped = 0
        self.set_cookie_headers: list[str] = []  # every Set-Cookie seen, in order

    def _keep(self, response: requests.Response) -> None:
        self.set_cookie_headers += response.raw.headers.getlist("Set-Cookie")
        for header in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            if re.search(r"(?i)max-age=0\b", header):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = rest.split(";", 1)[0]

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Accept-Language": self.lang, "User-Agent": USER_AGENT, **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def get(self, url: str, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
        url = url if url.startswith("http") else self.base_url + url
        response = requests.get(
            url, params=params or None, headers=self._headers(headers), allow_redirects=False, timeout=30
        )
        self._keep(response)
        return response

    def post(self, url: str, data: dict[str, str], headers: dict[str, str] | None = None) -> requests.Response:
        url = url if url.startswith("http") else self.base_url + url
        sent = self._headers({"Origin": self.base_url, **(headers or {})})
        response = requests.post(url, data=data, headers=sent, allow_redirects=False, timeout=30)
        self._keep(response)
        skip = re.search(r'id="passkey-skip" href="([^"]+)"', response.text) if response.status_code == 200 else None
        if skip:  # the "add a passkey" prompt after a sign-in: this person says "Not now"
            self.prompts_skipped += 1
            return self.get(html.unescape(skip.group(1)))
        return response

    def submit_form(self, page: requests.Response, method: str, **fields: str) -> requests.Response:
        """Post the page's form that has the ``method`` button (pages with several forms)."""
        action, hidden = form_with(page, method)
        return self.post(action, {**hidden, "method": method, **fields})

    def submit(self, page: requests.Response, **fields: str) -> requests.Response:
        """Post the page's form with its hidden fields and ``fields``."""
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        return self.post(action, {**{k: html.unescape(v) for k, v in hidden.items()}, **fields})


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Client:
    """A relying party registered at the center."""

    base_url: str
    client_id: str
    redirect_uri: str
    secret: str | None = None
    last: dict[str, str] = field(default_factory=dict)

    def authorize_params(self, **changes: str | None) -> dict[str, str]:
        verifier, challenge = pkce()
        self.last = {"verifier": verifier, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)}
        params: dict[str, str | None] = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": "openid profile email",
            "state": self.last["state"],
            "nonce": self.last["nonce"],
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(changes)
        return {k: v for k, v in params.items() if v is not None}

    def authorize_url(self, **changes: str | None) -> str:
        return f"{self.base_url}/oauth2/authorize?{urlencode(self.authorize_params(**changes))}"

    def token(self, code: str, verifier: str | None = None, **changes: str) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier if verifier is not None else self.last["verifier"],
            **changes,
        }
        return self._post("/oauth2/token", data)

    def refresh(self, refresh_token: str) -> requests.Response:
        return self._post(
            "/oauth2/token",
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id},
        )

    def revoke(self, token: str) -> requests.Response:
        return self._post("/oauth2/revoke", {"token": token, "client_id": self.client_id})

    def _post(self, path: str, data: dict[str, str]) -> requests.Response:
        auth = (self.client_id, self.secret) if self.secret else None
        if auth:
            data = {k: v for k, v in data.items() if k != "client_id"}
        return requests.post(self.base_url + path, data=data, auth=auth, timeout=30)

    def id_claims(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims, its signature checked with the center's JWKS."""
        keys = jwt.PyJWKClient(f"{self.base_url}/.well-known/jwks.json")
        key = keys.get_signing_key_from_jwt(id_token)
        claims: dict[str, Any] = jwt.decode(
            id_token, key.key, algorithms=["ES256", "RS256"], audience=self.client_id, issuer=self.base_url
        )
        return claims


class LogoutReceiver:
    """A client's web server: its back-channel logout endpoint keeps every ``logout_token`` POSTed to it;
    any page it is sent to answers 200 (``origin`` + any path: callbacks, signed-out pages)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fields = parse_qs(self.rfile.read(length).decode())
                with receiver.arrived:
                    receiver.tokens.extend(fields.get("logout_token", []))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                body = b"<!doctype html><title>client</title><p>client</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/backchannel-logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> list[str]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.tokens) >= count, timeout=timeout)
            return list(self.tokens)

    def close(self) -> None:
        self.server.shutdown()
