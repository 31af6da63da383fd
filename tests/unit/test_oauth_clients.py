"""Apps as OpenID Connect clients of the sign-in center (issue 11): redirect URIs, client type, and a
confidential client's secret, issued once and stored hashed."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError as BodyError

from shared.container import Services
from shared.errors import ValidationError
from shared.schemas import AppBody
from shared.services.apps import client_secret_matches
from shared.urls import parse_redirect_uri
from shared.views import AppView


@pytest.mark.parametrize(
    "uri",
    [
        "https://shop.example.com/oidc/callback",
        "http://127.0.0.1:8080/callback",
        "http://localhost:5173/cb",
        "http://[::1]/cb",
        "com.example.shop:/oauth2redirect",
        "https://shop.example.com/cb?tenant=1",
    ],
)
def test_redirect_uris_that_clients_use_are_accepted_as_given(uri: str) -> None:
    assert parse_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://shop.example.com/cb",  # plain http off loopback
        "https://shop.example.com/cb#frag",
        "https://*.example.com/cb",
        "https://user@shop.example.com/cb",
        "https://shop.example.com/c\nb",
        "https://shop.example.com\\@evil.com/",
        "javascript:alert(1)",
        "myapp:/cb",  # a private-use scheme must be reverse-domain
        "/relative/path",
        "https://" + "a" * 520 + ".com/",
    ],
)
def test_redirect_uris_that_could_leak_a_code_are_refused(uri: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_redirect_uri(uri)
    assert list(refused.value.errors or {}) == ["redirect_uris"]


def test_bad_redirect_uris_are_422_with_the_other_bad_fields() -> None:
    with pytest.raises(BodyError) as refused:
        AppBody(redirect_uris=["http://shop.example.com/cb"], client_type="secret")
    assert {error["loc"][0] for error in refused.value.errors()} == {"redirect_uris", "client_type"}


def test_a_confidential_client_gets_its_secret_once_and_keeps_only_its_hash(services: Services, scan_table) -> None:
    # When an app becomes a confidential client with its redirect URIs
    change = AppBody(
        redirect_uris=["https://shop.example.com/cb", "https://shop.example.com/cb"],
        post_logout_redirect_uris=["https://shop.example.com/bye"],
        backchannel_logout_uri="https://shop.example.com/backchannel",
        client_type="confidential",
    )
    shown = AppView.of(services.apps.update("app0", change)).model_dump()

    # Then the answer carries the secret once, and the table only its hash
    secret = shown["client_secret"]
    assert shown["client_id"] == "app0" and shown["has_client_secret"] is True and len(secret) >= 40
    assert shown["redirect_uris"] == ["https://shop.example.com/cb"]  # duplicates dropped
    assert secret not in json.dumps(scan_table(), default=str)
    stored = services.apps.get("app0", fresh=True)
    assert client_secret_matches(stored, secret) and not client_secret_matches(stored, secret + "x")
    # And reading the app again never shows it
    again = AppView.of(stored).model_dump()
    assert again["client_secret"] is None and "client_secret_hash" not in again

    # When other settings change, the secret stays; a rotation replaces it
    services.apps.update("app0", AppBody(display_name="Shop"))
    assert client_secret_matches(services.apps.get("app0", fresh=True), secret)
    rotated = services.apps.update("app0", AppBody(rotate_client_secret=True)).issued_client_secret
    stored = services.apps.get("app0", fresh=True)
    assert rotated and rotated != secret and client_secret_matches(stored, rotated)
    assert not client_secret_matches(stored, secret)

    # And a public client keeps no secret (and cannot rotate one)
    services.apps.update("app0", AppBody(client_type="public"))
    assert services.apps.get("app0", fresh=True).client_secret_hash is None
    with pytest.raises(ValidationError):
        services.apps.update("app0", AppBody(rotate_client_secret=True))
