"""Shared fixtures: an embedded DynamoDB (moto server), a fresh table per test built from
template.yaml's definition, a fake clock, and services wired to them (bcrypt cost 4 for speed).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "UserCenterTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "user-center")
os.environ.setdefault("POWERTOOLS_DEV", "0")

from localdev.dynamo import EmbeddedDynamo, client, ensure_table
from localdev.template import read_api
from shared import container
from shared.config import Settings
from shared.container import Services, build_services
from shared.services.signing_keys import KeyRingProvider, new_ring_document
from tests.fakes.clock import FakeClock


@pytest.fixture(scope="session")
def dynamo_endpoint() -> Iterator[str]:
    """One embedded DynamoDB for the test session."""
    server = EmbeddedDynamo()
    endpoint = server.start()
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def table_properties() -> dict[str, Any]:
    return read_api().table_properties


@pytest.fixture
def table_name(dynamo_endpoint: str, table_properties: dict[str, Any]) -> Iterator[str]:
    """A fresh, empty table for one test, from the template's definition; dropped afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    ensure_table(dynamo_endpoint, name, table_properties)
    yield name
    client(dynamo_endpoint).delete_table(TableName=name)


@pytest.fixture(scope="session")
def ring_document() -> str:
    return json.dumps(new_ring_document())


@pytest.fixture
def clock() -> FakeClock:
    import time

    return FakeClock(start=float(int(time.time())))


@pytest.fixture
def settings(table_name: str, dynamo_endpoint: str, ring_document: str, tmp_path: Any) -> Settings:
    return Settings(
        local_mode=True,  # tests run as `make run` does; deployed-stack behaviour sets it False
        local_outbox=str(tmp_path / "outbox.jsonl"),
        table_name=table_name,
        dynamodb_endpoint=dynamo_endpoint,
        bcrypt_rounds=4,
        legacy_pbkdf2_iterations=0,  # failures padded to bcrypt at cost 4 only: fast tests
        signing_keys_json=ring_document,
        mfa_key=base64.b64encode(b"k" * 32).decode(),
    )


@pytest.fixture
def make_services(settings: Settings, clock: FakeClock) -> Callable[..., Services]:
    """Factory: services on the test table with the fake clock; keyword args replace settings."""

    def make(keys: KeyRingProvider | None = None, senders: Any = None, **changes: Any) -> Services:
        from dataclasses import replace

        return build_services(replace(settings, **changes), clock=clock, keys=keys, senders=senders)

    return make


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Iterator[Services]:
    """Services installed as the container's (what handlers use), removed afterwards."""
    built = make_services()
    container.override(built)
    yield built
    container.override(None)
