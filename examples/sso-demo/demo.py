"""Two small business systems that sign in through the sign-in center: single sign-on and single logout
in a browser in a minute (README, "Sign in through the center").

    ADMIN_USERNAME=root ADMIN_PASSWORD=root-password-1 make run     # terminal 1
    make sso-demo                                                   # terminal 2
    open http://127.0.0.1:8001 (Shop) and http://127.0.0.1:8002 (Blog)

Each system is a public client doing what any OpenID Connect relying party does:
the code flow with PKCE (S256), ``state`` and ``nonce``; the ID token's signature checked with the
center's JWKS, its ``iss``, ``aud`` and ``nonce``; RP-initiated logout with ``id_token_hint``; and a
back-channel logout endpoint that ends its own session when the center says so (``sid``). It registers
itself with the super admin's token (``ADMIN_USERNAME`` / ``ADMIN_PASSWORD``); only the standard library,
requests and PyJWT.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import requests


@dataclass
class System:
    """One business system: its client registration and the people signed in to it (by its cookie)."""

    name: str
    title: str
    port: int
    center: str
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # cookie -> claims and tokens
    pending: dict[str, dict[str, str]] = field(default_factory=dict)  # state -> verifier, nonce
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cookie(self) -> str:
        return f"demo_{self.name}"  # cookies are per host, not per port: each system names its own

    def registration(self) -> dict[str, Any]:
        return {
            "display_name": self.title,
            "redirect_uris": [f"{self.origin}/callback"],
            "post_logout_redirect_uris": [f"{self.origin}/"],
            "backchannel_logout_uri": f"{self.origin}/backchannel-logout",
            "client_type": "public",
        }

    def login_url(self) -> str:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with self.lock:
            self.pending[state] = {"verifier": verifier, "nonce": nonce}
        query = {
            "client_id": self.name,
            "redirect_uri": f"{self.origin}/callback",
            "response_type": "code",
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.center}/oauth2/authorize?{urlencode(query)}"

    def finish(self, query: dict[str, str]) -> str:
        """The callback: exchange the code, check the ID token; the new session's cookie value.

        Raises:
            ValueError: the answer is an error, or does not check out.
        """
        if "error" in query:
            raise ValueError(query["error"])
        if query.get("iss") != self.center:
            raise ValueError("the answer is not from our center (iss)")
        with self.lock:
            pending = self.pending.pop(query.get("state", ""), None)
        if pending is None:
            raise ValueError("unknown state")
        answer = requests.post(
            f"{self.center}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": query.get("code", ""),
                "redirect_uri": f"{self.origin}/callback",
                "client_id": self.name,
                "code_verifier": pending["verifier"],
            },
            timeout=10,
        )
        if answer.status_code != 200:
            raise ValueError(answer.text)
        tokens = answer.json()
        claims = self.verify(tokens["id_token"])
        if claims.get("nonce") != pending["nonce"]:
            raise ValueError("nonce mismatch")
        value = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[value] = {"claims": claims, "tokens": tokens}
        return value

    def verify(self, token: str, **options: Any) -> dict[str, Any]:
        key = jwt.PyJWKClient(f"{self.center}/.well-known/jwks.json").get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=["ES256", "RS256"], audience=self.name, issuer=self.center, **options
        )
        return claims

    def logout_url(self, value: str | None) -> str:
        with self.lock:
            session = self.sessions.pop(value or "", None)
        query = {"post_logout_redirect_uri": f"{self.origin}/", "client_id": self.name}
        if session:
            query["id_token_hint"] = session["tokens"]["id_token"]
        return f"{self.center}/oauth2/logout?{urlencode(query)}"

    def backchannel(self, logout_token: str) -> int:
        """The center's back-channel logout: end every session of the token's ``sid``; how many."""
        claims = self.verify(logout_token)
        if "http://schemas.openid.net/event/backchannel-logout" not in claims.get("events", {}):
            raise ValueError("not a logout token")
        with self.lock:
            ended = [k for k, s in self.sessions.items() if s["claims"].get("sid") == claims.get("sid")]
            for key in ended:
                del self.sessions[key]
        return len(ended)

    def who(self, value: str | None) -> dict[str, Any] | None:
        with self.lock:
            session = self.sessions.get(value or "")
        return session["claims"] if session else None


def page(system: System, claims: dict[str, Any] | None) -> str:
    if claims:
        name = html.escape(str(claims.get("preferred_username") or claims["sub"]))
        body = (
            f"<p>Signed in as <b id='who'>{name}</b> (center session {html.escape(str(claims.get('sid')))}).</p>"
            "<p><a href='/logout'>Sign out (everywhere)</a></p>"
        )
    else:
        body = "<p id='who'>Not signed in.</p><p><a href='/login'>Sign in through the center</a></p>"
    return f"<!doctype html><meta charset='utf-8'><title>{system.title}</title><h1>{system.title}</h1>{body}"


def handler(system: System) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def cookie(self) -> str | None:
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == system.cookie:
                    return value
            return None

        def answer(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            for key, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path, _, raw = self.path.partition("?")
            query = {k: v[0] for k, v in parse_qs(raw).items()}
            if path == "/login":
                self.answer(302, headers={"Location": system.login_url()})
            elif path == "/callback":
                try:
                    value = system.finish(query)
                except (ValueError, jwt.PyJWTError) as exc:
                    self.answer(400, f"<p>Sign-in failed: {html.escape(str(exc))}</p><a href='/'>back</a>")
                    return
                cookie = f"{system.cookie}={value}; Path=/; HttpOnly; SameSite=Lax"
                self.answer(302, headers={"Location": "/", "Set-Cookie": cookie})
            elif path == "/logout":
                cookie = f"{system.cookie}=; Path=/; Max-Age=0"
                self.answer(302, headers={"Location": system.logout_url(self.cookie()), "Set-Cookie": cookie})
            else:
                self.answer(200, page(system, system.who(self.cookie())))

        def do_POST(self) -> None:
            if self.path != "/backchannel-logout":
                self.answer(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            fields = parse_qs(self.rfile.read(length).decode())
            try:
                system.backchannel((fields.get("logout_token") or [""])[0])
            except (ValueError, jwt.PyJWTError):
                self.answer(400)
                return
            self.answer(200, headers={"Cache-Control": "no-store"})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def register(center: str, systems: list[System], username: str, password: str) -> None:
    """Create or update each system's client registration (the super admin's token)."""
    login = requests.post(f"{center}/api/auth/login", json={"username": username, "password": password}, timeout=10)
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    for system in systems:
        body = system.registration()
        created = requests.post(
            f"{center}/api/apps/create", json={"app_name": system.name, **body}, headers=auth, timeout=10
        )
        if created.status_code == 409:
            requests.put(
                f"{center}/api/apps/{system.name}/update", json=body, headers=auth, timeout=10
            ).raise_for_status()
        else:
            created.raise_for_status()


def serve(center: str, ports: tuple[int, int] = (8001, 8002)) -> list[tuple[System, ThreadingHTTPServer]]:
    """Start both systems (port 0: any free port); they serve until their servers shut down."""
    running = []
    for (name, title), port in zip((("demo-shop", "Shop"), ("demo-blog", "Blog")), ports, strict=True):
        system = System(name, title, port, center.rstrip("/"))
        server = ThreadingHTTPServer(("127.0.0.1", port), handler(system))
        system.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append((system, server))
    return running


def main() -> None:
    center = os.environ.get("CENTER_URL", "http://127.0.0.1:3000")
    running = serve(center)
    register(
        center,
        [system for system, _ in running],
        os.environ.get("ADMIN_USERNAME", "root"),
        os.environ.get("ADMIN_PASSWORD", "root-password-1"),
    )
    for system, _ in running:
        print(f"{system.title}: {system.origin}  (client_id {system.name})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()
