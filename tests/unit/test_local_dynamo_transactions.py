"""Transactions of local mode's DynamoDB (localdev/moto_patches.py, issue 10): all or nothing, rolled back
by an undo log of the items they touch (never a copy of the table), one at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localdev import moto_patches
from localdev.dynamo import client

Item = dict[str, dict[str, Any]]


def key(pk: str) -> Item:
    return {"PK": {"S": pk}, "SK": {"S": "X"}}


def everything(db: Any, table: str) -> list[Item]:
    """Every item exactly as stored (typed JSON), in key order."""
    items: list[Item] = []
    for page in db.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def members(db: Any, table: str, bucket: str) -> list[Item]:
    """What the GSI1 index answers for ``bucket`` (the index must follow every write and every undo)."""
    return list(
        db.query(
            TableName=table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :b",
            ExpressionAttributeValues={":b": {"S": bucket}},
        )["Items"]
    )


@pytest.fixture
def db(dynamo_endpoint: str) -> Any:
    assert moto_patches.applied(), "the embedded DynamoDB of the tests runs patched, as local mode does"
    return client(dynamo_endpoint)


@pytest.fixture
def accounts(db: Any, table_name: str) -> Callable[[str], list[dict[str, Any]]]:
    """Given three accounts (a, b, c) of every attribute type, and no ``d``; returns the transaction
    factory: put d (new), update a, check c's status is ``status``, delete b, in that order."""
    db.put_item(
        TableName=table_name,
        Item={
            **key("ACC#a"),
            "balance": {"N": "10"},
            "huge": {"N": "10000000000000000000000000000000000000000"},
            "tags": {"SS": ["x", "y"]},
            "blob": {"B": b"\x00\xff"},
            "nested": {"M": {"list": {"L": [{"N": "1.5"}, {"BOOL": True}, {"NULL": True}]}}},
            "GSI1PK": {"S": "BUCKET#1"},
            "GSI1SK": {"S": "a"},
        },
    )
    db.put_item(
        TableName=table_name,
        Item={**key("ACC#b"), "balance": {"N": "3"}, "GSI1PK": {"S": "BUCKET#1"}, "GSI1SK": {"S": "b"}},
    )
    db.put_item(TableName=table_name, Item={**key("ACC#c"), "status": {"S": "locked"}})

    def transaction(status: str) -> list[dict[str, Any]]:
        return [
            {
                "Put": {
                    "TableName": table_name,
                    "Item": {**key("ACC#d"), "balance": {"N": "5"}, "GSI1PK": {"S": "BUCKET#1"}, "GSI1SK": {"S": "d"}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": table_name,
                    "Key": key("ACC#a"),
                    "UpdateExpression": "SET balance = balance - :five, GSI1PK = :moved ADD tags :z REMOVE nested",
                    "ExpressionAttributeValues": {
                        ":five": {"N": "5"},
                        ":moved": {"S": "BUCKET#2"},
                        ":z": {"SS": ["z"]},
                    },
                }
            },
            {
                "ConditionCheck": {
                    "TableName": table_name,
                    "Key": key("ACC#c"),
                    "ConditionExpression": "#s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": status}},
                }
            },
            {"Delete": {"TableName": table_name, "Key": key("ACC#b")}},
        ]

    return transaction


def test_a_cancelled_transaction_leaves_every_item_as_it_was(
    db: Any, table_name: str, accounts: Callable[[str], list[dict[str, Any]]]
) -> None:
    before = everything(db, table_name)
    bucket_before = members(db, table_name, "BUCKET#1")
    assert len(before) == 3 and len(bucket_before) == 2

    # When a transaction writes a new item, updates one, then fails its condition on item 3 of 4 (a delete)
    with pytest.raises(ClientError) as caught:
        db.transact_write_items(TransactItems=accounts("open"))

    # Then DynamoDB's cancellation names the failed condition only
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    codes = [reason["Code"] for reason in caught.value.response["CancellationReasons"]]
    assert codes == ["None", "None", "ConditionalCheckFailed", "None"]
    # And every item is exactly as it was (the new one absent), and the index with them
    assert everything(db, table_name) == before
    assert members(db, table_name, "BUCKET#1") == bucket_before
    assert members(db, table_name, "BUCKET#2") == []


def test_a_committed_transaction_applies_every_write(
    db: Any, table_name: str, accounts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # When the same transaction finds its condition true
    db.transact_write_items(TransactItems=accounts("locked"))

    # Then the put, the update and the delete all happened, and the index follows them
    items = {item["PK"]["S"]: item for item in everything(db, table_name)}
    assert sorted(items) == ["ACC#a", "ACC#c", "ACC#d"]
    assert items["ACC#a"]["balance"] == {"N": "5"} and "nested" not in items["ACC#a"]
    assert sorted(items["ACC#a"]["tags"]["SS"]) == ["x", "y", "z"]
    assert items["ACC#a"]["blob"] == {"B": b"\x00\xff"}
    assert [item["PK"]["S"] for item in members(db, table_name, "BUCKET#1")] == ["ACC#d"]
    assert [item["PK"]["S"] for item in members(db, table_name, "BUCKET#2")] == ["ACC#a"]


def test_a_transaction_copies_only_the_items_it_writes(
    db: Any, table_name: str, accounts: Callable[[str], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.dynamo_type import Item as MotoItem

    copies = {"n": 0}
    real = MotoItem.__deepcopy__

    def counted(self: Any, memo: dict[int, Any]) -> Any:
        copies["n"] += 1
        return real(self, memo)

    monkeypatch.setattr(MotoItem, "__deepcopy__", counted)

    def cancelled_with(filler: int) -> int:
        for start in range(0, filler, 25):
            db.batch_write_item(
                RequestItems={
                    table_name: [
                        {"PutRequest": {"Item": {**key(f"FILL#{filler}#{n}"), "n": {"N": str(n)}}}}
                        for n in range(start, min(filler, start + 25))
                    ]
                }
            )
        copies["n"] = 0
        with pytest.raises(ClientError):
            db.transact_write_items(TransactItems=accounts("open"))
        return copies["n"]

    # Given tables of 3 + 25 and 3 + 25 + 200 items: the same cancelled transaction copies as many items
    small, large = cancelled_with(25), cancelled_with(200)
    # (moto as released copies the whole table once per transaction item: 4 x 28 and 4 x 228)
    assert small == large
    assert small <= 2 * 4  # the undo log's copy of each written item, and moto's own copy in UpdateItem


def test_transactions_are_isolated_and_rollbacks_undo_nothing_else(db: Any, table_name: str) -> None:
    # Given two counters that every transaction increments together
    for name in ("X", "Y"):
        db.put_item(TableName=table_name, Item={**key(name), "n": {"N": "0"}})

    def increment_both(fail: bool) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": table_name,
                    "Key": key(name),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
            for name in ("X", "Y")
        ]
        if fail:  # the third item fails after both updates were applied: both must be undone
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": table_name,
                        "Key": key("NOPE"),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                }
            )
        return items

    torn: list[tuple[str, str]] = []
    done = threading.Event()

    def writer() -> None:
        for attempt in range(12):
            try:
                db.transact_write_items(TransactItems=increment_both(fail=attempt % 2 == 1))
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "TransactionCanceledException"

    def reader() -> None:
        while not done.is_set():
            pair = db.transact_get_items(
                TransactItems=[{"Get": {"TableName": table_name, "Key": key(n)}} for n in "XY"]
            )
            x, y = (response["Item"]["n"]["N"] for response in pair["Responses"])
            if x != y:
                torn.append((x, y))

    # When four writers commit and cancel transactions while a reader reads both counters
    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [threading.Thread(target=writer) for _ in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    watcher.join()

    # Then no reader saw one counter without the other, and every commit (and only those) counted
    assert torn == []
    final = {item["PK"]["S"]: item["n"]["N"] for item in everything(db, table_name)}
    assert final == {"X": str(4 * 6), "Y": str(4 * 6)}
