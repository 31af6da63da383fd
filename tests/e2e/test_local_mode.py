"""Local mode itself: data kept across normal restarts, LOCAL_RESET=1, the dev signing key."""

from __future__ import annotations

import json
import stat

import pytest
import requests

from localdev.server import LocalServer
from tests.e2e.conftest import local_env

pytestmark = pytest.mark.e2e


def start(env: dict[str, str]) -> LocalServer:
    server = LocalServer(env)
    server.start()
    return server


def test_data_survives_a_normal_restart_and_local_reset_wipes_it(tmp_path) -> None:
    env = local_env(tmp_path, LOCAL_CONCURRENCY="1")
    first = start(env)
    try:
        created = requests.post(
            f"{first.url}/api/auth/register", json={"username": "keep", "password": "secret123"}, timeout=30
        )
        assert created.status_code == 201
        refresh = created.json()["data"]["refresh_token"]
    finally:
        first.stop()
    assert (tmp_path / "dynamodb.json").exists()
    key_file = tmp_path / "signing-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    kid = json.loads(key_file.read_text())["active_kid"]

    second = start(env)
    try:
        login = requests.post(
            f"{second.url}/api/auth/login", json={"username": "keep", "password": "secret123"}, timeout=30
        )
        assert login.status_code == 200
        # Same key ring: the session and refresh token from before the restart still work.
        assert (
            requests.post(
                f"{second.url}/api/auth/token/refresh", json={"refresh_token": refresh}, timeout=30
            ).status_code
            == 200
        )
        assert requests.get(f"{second.url}/.well-known/jwks.json", timeout=30).json()["keys"][0]["kid"] == kid
    finally:
        second.stop()

    wiped = start({**env, "LOCAL_RESET": "1"})
    try:
        login = requests.post(
            f"{wiped.url}/api/auth/login", json={"username": "keep", "password": "secret123"}, timeout=30
        )
        assert login.status_code == 401
    finally:
        wiped.stop()


def test_dynamodb_endpoint_switches_to_another_dynamodb(tmp_path, dynamo_endpoint) -> None:
    # Given a DynamoDB of our own (here: the test session's embedded one)
    from localdev.dynamo import client

    env = local_env(tmp_path, LOCAL_CONCURRENCY="1", DYNAMODB_ENDPOINT=dynamo_endpoint, TABLE_NAME="external-table")
    server = start(env)
    try:
        created = requests.post(
            f"{server.url}/api/auth/register", json={"username": "ext", "password": "secret123"}, timeout=30
        )
        assert created.status_code == 201
    finally:
        server.stop()
    # Then the table was created there, from the template, and holds the new user
    items = client(dynamo_endpoint).scan(TableName="external-table")["Items"]
    assert any(item["SK"]["S"] == "PROFILE" and item["username"]["S"] == "ext" for item in items)
    assert not (tmp_path / "dynamodb.json").exists()  # no snapshot of someone else's database
    client(dynamo_endpoint).delete_table(TableName="external-table")


def test_the_api_document_and_swagger_ui_are_served(api) -> None:
    document = api("GET", "/api/openapi.json")
    assert document.status_code == 200 and document.headers["Content-Type"].startswith("application/json")
    paths = document.json()["paths"]
    assert paths["/api/users"]["get"]["x-requirement"] == "perm:system:user:list"
    page = api("GET", "/api/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text and "/api/users" in page.text
    # the Swagger UI is inlined: no script or stylesheet comes from another host
    assert "<script src=" not in page.text and "<link rel='stylesheet'" not in page.text
