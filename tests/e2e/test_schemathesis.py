"""Property-based tests of the whole API from its OpenAPI document (schemathesis), against a local server
of its own: for every operation, generated requests (schemathesis' coverage phase, then a fixed number of
random ones), anonymous and signed in as the super admin (every route but the three that end the
caller's own session, which the anonymous run and the other tests cover).

Every answer must be below 500, have a status and content type the document lists, match the documented
schema (the envelope, or the error envelope), and, when it is the envelope, carry its own status as
``code``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from localdev.server import LocalServer
from tests.e2e.conftest import ADMIN, local_env

pytestmark = pytest.mark.e2e

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(str(DOCUMENT))
signed_in = schema.exclude(path=["/api/auth/logout", "/api/auth/signout", "/api/account/logout"])
EXAMPLES = 4  # random requests per operation and caller, after the coverage phase's: a fixed budget


@schemathesis.check
def envelope_carries_its_status(ctx: Any, response: Any, case: Any) -> bool | None:
    """An enveloped answer's ``code`` is its HTTP status (API.md section 1)."""
    if "application/json" not in response.headers.get("Content-Type", [""])[0]:
        return None
    body = response.json()
    if isinstance(body, dict) and "success" in body and body.get("code") != response.status_code:
        raise AssertionError(f"code {body.get('code')} in a {response.status_code} answer")
    return None


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    envelope_carries_its_status,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A local server of its own: generated requests change its data, not the other tests'."""
    local = LocalServer(local_env(tmp_path_factory.mktemp("schemathesis"), POWERTOOLS_LOG_LEVEL="WARNING"))
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def root_token(fuzzed: LocalServer) -> str:
    body = {"username": ADMIN[0], "password": ADMIN[1]}
    login = requests.post(f"{fuzzed.url}/api/auth/login/", json=body, timeout=30)
    assert login.status_code == 200, login.text
    return str(login.json()["data"]["access_token"])


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@schema.parametrize()
@FUZZ
def test_anonymous_callers(case: Any, fuzzed: LocalServer) -> None:
    case.call_and_validate(base_url=fuzzed.url, checks=CHECKS, timeout=30)


@signed_in.parametrize()
@FUZZ
def test_signed_in_callers(case: Any, fuzzed: LocalServer, root_token: str) -> None:
    headers = {"Authorization": f"Bearer {root_token}"}
    case.call_and_validate(base_url=fuzzed.url, checks=CHECKS, headers=headers, timeout=30)
