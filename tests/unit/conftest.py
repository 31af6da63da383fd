"""Helpers of the unit tests: sign-up shortcuts and a raw view of the table (for "nothing half written")."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pynamodb.connection.base
import pytest
from boto3.dynamodb.types import TypeDeserializer

from localdev.dynamo import client
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand, SignedIn
from tests.fakes.dynamo_faults import DynamoFaults
from tests.unit.helpers import PASSWORD, FakeSender, hook_dynamodb_clients


@functools.cache
def _shared_loader() -> Any:
    return botocore.session.get_session().get_component("data_loader")


@pytest.fixture(autouse=True)
def _reuse_botocore_service_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: PynamoDB starts a new botocore session per connection (and per transaction, see
    shared.db.table), and each new session re-reads DynamoDB's service model from disk (~50 ms). Sessions
    created during the tests share one data loader; requests and responses are unchanged."""

    def get_session() -> botocore.session.Session:
        session = botocore.session.get_session()
        session.register_component("data_loader", _shared_loader())
        return session

    monkeypatch.setattr(pynamodb.connection.base, "get_session", get_session)


@pytest.fixture
def scan_table(dynamo_endpoint: str, table_name: str) -> Callable[[], list[dict[str, Any]]]:
    """Every item of the test table, read with a plain boto3 client (no PynamoDB in between)."""

    def scan() -> list[dict[str, Any]]:
        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in client(dynamo_endpoint).get_paginator("scan").paginate(TableName=table_name):
            items.extend({k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"])
        return items

    return scan


@pytest.fixture
def sign_up(services: Services) -> Callable[..., SignedIn]:
    """Register a password user through the real account service."""

    def register(username: str, password: str = PASSWORD, **fields: Any) -> SignedIn:
        return services.accounts.register(
            RegisterCommand(username=username, password=password, **fields), ClientInfo(ip="203.0.113.7")
        )

    return register


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch, services: Services) -> DynamoFaults:
    """Fault injection on every botocore client PynamoDB creates from now on (models are rebound, so their
    cached clients are replaced too)."""
    injected = DynamoFaults()
    hook_dynamodb_clients(monkeypatch, services, "before-send.dynamodb", injected.before_send)
    return injected


@pytest.fixture
def senders() -> dict[str, FakeSender]:
    """In-memory SMS and email senders: each keeps the codes it was asked to send."""
    return {"sms": FakeSender("sms"), "email": FakeSender("email")}


@pytest.fixture
def svc(make_services: Callable[..., Services], senders: dict[str, FakeSender]) -> Iterator[Services]:
    """Services with ``senders``, installed as the container's for the test (what handlers use)."""
    from shared import container

    built = make_services(senders=senders)
    container.override(built)
    yield built
    container.override(None)
