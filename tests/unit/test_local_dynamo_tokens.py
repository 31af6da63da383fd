"""Idempotent transactions (issue 10): local mode's DynamoDB honours ``ClientRequestToken`` as DynamoDB does,
and every transaction of a request carries a token derived from the request (shared/request_scope.py)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError

from localdev import moto_patches
from localdev.dynamo import client
from shared import request_scope
from shared.container import Services
from shared.db.models import RateItem
from shared.db.table import error_code


@pytest.fixture
def db(dynamo_endpoint: str) -> Any:
    assert moto_patches.applied()
    return client(dynamo_endpoint)


@pytest.fixture
def add_one(table_name: str) -> Callable[[str], list[dict[str, Any]]]:
    """A transaction adding 1 to the counter ``name`` (so a second write would show)."""

    def items(name: str) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": table_name,
                    "Key": {"PK": {"S": f"COUNTER#{name}"}, "SK": {"S": "X"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]

    return items


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The token window's clock, moved by the test."""
    now = [time.monotonic()]
    monkeypatch.setattr(moto_patches, "clock", lambda: now[0])
    return now


def counter(db: Any, table: str, name: str) -> str | None:
    item = db.get_item(TableName=table, Key={"PK": {"S": f"COUNTER#{name}"}, "SK": {"S": "X"}}).get("Item")
    return None if item is None else str(item["n"]["N"])


def token() -> str:
    return uuid.uuid4().hex


def test_the_same_request_with_the_same_token_writes_once(db: Any, table_name: str, add_one: Any, clock: Any) -> None:
    same = token()
    # When a committed transaction is sent again with its token (a retry whose first answer was lost)
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=same)
    clock[0] += 599
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=same)
    # Then it succeeds and nothing is written twice
    assert counter(db, table_name, "a") == "1"


def test_other_items_with_a_used_token_are_refused(db: Any, table_name: str, add_one: Any, clock: Any) -> None:
    same = token()
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=same)
    # When another transaction reuses the token within 10 minutes
    with pytest.raises(ClientError) as caught:
        db.transact_write_items(TransactItems=add_one("b"), ClientRequestToken=same)
    # Then it fails as DynamoDB fails it, and writes nothing
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert counter(db, table_name, "b") is None


def test_a_token_lasts_ten_minutes(db: Any, table_name: str, add_one: Any, clock: Any) -> None:
    same = token()
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=same)
    clock[0] += 600
    # When the same request comes again 10 minutes later / Then it is a new request
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=same)
    assert counter(db, table_name, "a") == "2"


def test_a_cancelled_transaction_keeps_no_token(db: Any, table_name: str, add_one: Any, clock: Any) -> None:
    same = token()
    guarded = [
        *add_one("a"),
        {
            "ConditionCheck": {
                "TableName": table_name,
                "Key": {"PK": {"S": "GATE"}, "SK": {"S": "X"}},
                "ConditionExpression": "attribute_exists(PK)",
            }
        },
    ]
    # Given a transaction cancelled by its condition
    with pytest.raises(ClientError):
        db.transact_write_items(TransactItems=guarded, ClientRequestToken=same)
    # When the condition holds and it is retried with the same token / Then it runs, once
    db.put_item(TableName=table_name, Item={"PK": {"S": "GATE"}, "SK": {"S": "X"}})
    db.transact_write_items(TransactItems=guarded, ClientRequestToken=same)
    db.transact_write_items(TransactItems=guarded, ClientRequestToken=same)
    assert counter(db, table_name, "a") == "1"


def test_different_tokens_are_different_requests(db: Any, table_name: str, add_one: Any) -> None:
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=token())
    db.transact_write_items(TransactItems=add_one("a"), ClientRequestToken=token())
    assert counter(db, table_name, "a") == "2"


# -- tokens derived from the request ---------------------------------------------------------------------
@pytest.fixture
def scope() -> Iterator[None]:
    """No request being served before and after the test (a handler test may have left one)."""
    request_scope.begin_request(None)
    yield
    request_scope.begin_request(None)


def expected(request_id: str, n: int) -> str:
    return hashlib.sha256(f"{request_id}:{n}".encode()).hexdigest()[:36]


def test_each_transaction_of_a_request_has_its_own_derived_token(services: Services, scope: None) -> None:
    # Outside a request: none (botocore generates one per call)
    assert services.table.transaction()._client_request_token is None
    # Inside one: sha256(request id:n), n counting the request's transactions
    request_scope.begin_request("req-abc")
    first, second = services.table.transaction(), services.table.transaction()
    assert first._client_request_token == expected("req-abc", 1)
    assert second._client_request_token == expected("req-abc", 2)
    assert len(expected("req-abc", 1)) == 36
    # A new request starts counting again
    request_scope.begin_request("req-def")
    assert services.table.transaction()._client_request_token == expected("req-def", 1)


def bump(services: Services, name: str) -> None:
    with services.table.transaction() as tx:
        tx.update(RateItem(pk=f"RATE#{name}", sk="RATE"), actions=[RateItem.hits.add(1)])


def test_a_request_served_again_does_not_write_again(services: Services, scope: None) -> None:
    # Given a request whose transaction committed
    request_scope.begin_request(f"req-{uuid.uuid4()}")
    request_id = request_scope._current.get().request_id  # type: ignore[union-attr]
    bump(services, "a")
    # When the same request is served again (same id, same transaction)
    request_scope.begin_request(request_id)
    bump(services, "a")
    # Then the write happened once
    assert RateItem.get("RATE#a", "RATE").hits == 1
    # And the request's token on another write is refused, not applied
    request_scope.begin_request(request_id)
    with pytest.raises(TransactWriteError) as caught:
        bump(services, "b")
    assert error_code(caught.value) == "IdempotentParameterMismatchException"
    assert RateItem.count("RATE#b") == 0
