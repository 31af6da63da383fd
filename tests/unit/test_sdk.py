"""The SDK other teams use: the authorizer context helpers and the offline JWKS verifier."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from user_center_sdk import (
    InvalidToken,
    JwksVerifier,
    NotAuthenticated,
    current_user,
    require_permission,
    require_role,
    require_roles,
)

from shared.services.signing_keys import KeyRing, KeyRingProvider, new_ring_document, rotate_document
from shared.services.tokens import TokenService
from tests.fakes.clock import FakeClock
from tests.unit.helpers import b64url

CONTEXT = {"user_id": "u1", "session_id": "s1", "app_name": "crm", "roles": "l0,editor", "permissions": "order:read"}


def event(context: dict[str, str] | None) -> dict[str, Any]:
    return {"requestContext": {"authorizer": context} if context is not None else {}}


def test_current_user_reads_the_authorizer_context() -> None:
    user = current_user(event(CONTEXT))
    assert (user.user_id, user.app_name) == ("u1", "crm")
    assert user.roles == {"l0", "editor"} and user.has_permission("order:read")
    with pytest.raises(NotAuthenticated):
        current_user(event(None))
    assert current_user(event({**CONTEXT, "roles": "", "permissions": ""})).roles == frozenset()


@pytest.mark.parametrize(
    ("guard", "status"),
    [
        (require_role("editor"), 200),
        (require_role("admin"), 403),
        (require_roles(["admin", "editor"]), 200),
        (require_roles(["admin", "owner"]), 403),
        (require_permission("order:read"), 200),
        (require_permission("order:delete"), 403),
    ],
)
def test_guards_answer_403_envelopes_or_call_the_handler(guard: Any, status: int) -> None:
    handler = guard(lambda e, c: {"statusCode": 200, "body": "ok"})
    response = handler(event(CONTEXT), None)
    assert response["statusCode"] == status
    if status == 403:
        body = json.loads(response["body"])
        assert (body["code"], body["error"], body["success"]) == (403, "PERMISSION_DENIED", False)
    assert handler(event(None), None)["statusCode"] == 401


# -- offline verification --------------------------------------------------------------------------


class JwksServer:
    """A real HTTP server publishing a JWKS document that tests can change."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"


@pytest.fixture
def ring_doc() -> dict[str, Any]:
    return new_ring_document()


@pytest.fixture
def jwks(ring_doc: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer(KeyRing.from_document(ring_doc).jwks())
    yield server
    server.httpd.shutdown()


def signer(document: dict[str, Any]) -> TokenService:
    keys = KeyRingProvider(lambda: json.dumps(document))
    return TokenService(keys, issuer="user-center-dev", audience="user-center-dev", access_ttl=600)


def verifier(url: str, clock: FakeClock) -> JwksVerifier:
    return JwksVerifier(url, issuer="user-center-dev", audience="user-center-dev", clock=clock)


def test_verifies_tokens_and_caches_the_keys(jwks: JwksServer, ring_doc: dict[str, Any]) -> None:
    token, _ = signer(ring_doc).issue_access("u1", "s1", "app0", ["l0"])
    check = verifier(jwks.url, FakeClock())
    assert check.verify(token)["sub"] == "u1"
    assert check.verify(token)["roles"] == ["l0"]
    assert jwks.hits == 1


def test_rotated_key_is_fetched_and_unknown_kid_refused(jwks: JwksServer, ring_doc: dict[str, Any]) -> None:
    clock = FakeClock()
    check = verifier(jwks.url, clock)
    old_token, _ = signer(ring_doc).issue_access("u1", "s1", "app0", [])
    assert check.verify(old_token)["sub"] == "u1"
    # When the user center rotates its key (the old one still verifies)
    rotated = rotate_document(ring_doc)
    jwks.document = KeyRing.from_document(rotated).jwks()
    new_token, _ = signer(rotated).issue_access("u2", "s2", "app0", [])
    # Then a token with the new kid triggers one refetch (after the rate limit) and verifies
    clock.advance(61)
    assert check.verify(new_token)["sub"] == "u2" and check.verify(old_token)["sub"] == "u1"
    assert jwks.hits == 2
    # And a kid nobody published is refused without hammering the JWKS endpoint
    stranger, _ = signer(new_ring_document()).issue_access("u3", "s3", "app0", [])
    with pytest.raises(InvalidToken):
        check.verify(stranger)
    with pytest.raises(InvalidToken):
        check.verify(stranger)
    assert jwks.hits == 2


@pytest.mark.parametrize("kind", ["none", "tampered", "garbage"])
def test_forged_tokens_are_refused(jwks: JwksServer, ring_doc: dict[str, Any], kind: str) -> None:
    token, _ = signer(ring_doc).issue_access("u1", "s1", "app0", ["l0"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = {
        "none": f"{b64url({'alg': 'none', 'kid': ring_doc['active_kid']})}.{payload}.",
        "tampered": f"{header}.{b64url({**claims, 'roles': ['admin']})}.{signature}",
        "garbage": "not.a.jwt",
    }[kind]
    with pytest.raises(InvalidToken):
        verifier(jwks.url, FakeClock()).verify(forged)


def test_tokens_for_another_audience_or_issuer_are_refused(jwks: JwksServer, ring_doc: dict[str, Any]) -> None:
    token, _ = signer(ring_doc).issue_access("u1", "s1", "app0", ["l0"])
    for issuer, audience in (("user-center-dev", "billing"), ("someone-else", "user-center-dev")):
        with pytest.raises(InvalidToken):
            JwksVerifier(jwks.url, issuer=issuer, audience=audience).verify(token)
