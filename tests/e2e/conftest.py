"""End-to-end tests over HTTP against the local server (`make run`'s server), started by the session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from localdev import child
from localdev.server import LocalServer

ADMIN = ("root", "root-password-1")
CENTER_PASSWORD = "center-password-1"


def local_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of the session's local server (served in this process)."""
    defaults = {
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "LOCAL_CONCURRENCY": "4",
        # INFO as in AWS, so that every log call on the request path runs in these tests too
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    return child.environment(data_dir, **{**defaults, **extra})


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    local = LocalServer(local_env(tmp_path_factory.mktemp("local")))
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def base_url(server: LocalServer) -> str:
    return server.url


@pytest.fixture
def api(base_url: str) -> Callable[..., requests.Response]:
    """``api(method, path, json=..., token=..., **requests kwargs)`` against the local server."""

    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, base_url + path, headers=headers, timeout=30, **kwargs)

    return call


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique usernames, since the e2e server is shared by the session."""
    return lambda prefix: f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin_token(api: Callable[..., requests.Response]) -> str:
    """The super admin's access token."""
    login = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]})
    return str(login.json()["data"]["access_token"])


@pytest.fixture
def person(api: Callable[..., requests.Response], unique: Callable[[str], str]) -> str:
    """A registered user's name (password ``CENTER_PASSWORD``, email ``<name>@example.com``)."""
    name = unique("pc")
    body = {"username": name, "password": CENTER_PASSWORD, "email": f"{name}@example.com"}
    assert api("POST", "/api/auth/register", json=body).status_code == 201
    return name
