"""Helpers of the unit tests: sign-up shortcuts and a raw view of the table (for "nothing half written")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from localdev.dynamo import client
from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand, SignedIn

from tests.unit.helpers import PASSWORD


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

