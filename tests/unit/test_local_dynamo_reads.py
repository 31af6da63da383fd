"""Queries and scans of local mode's DynamoDB (localdev/moto_patches.py, issue 10): the same answers as moto
walking the whole table, page by page, after every kind of write, while reading only the key's items."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localdev import moto_patches
from localdev.dynamo import client

Item = dict[str, dict[str, Any]]
BUCKETS = [f"B#{n}" for n in range(5)]


@pytest.fixture
def db(dynamo_endpoint: str) -> Any:
    assert moto_patches.applied()
    return client(dynamo_endpoint)


def random_item(rng: random.Random, pk: int, sk: int) -> Item:
    item: Item = {"PK": {"S": f"P#{pk:03d}"}, "SK": {"S": f"S#{sk:02d}"}, "n": {"N": str(rng.randint(0, 9))}}
    if rng.random() < 0.8:
        item["GSI1PK"] = {"S": rng.choice(BUCKETS)}
        if rng.random() < 0.9:  # without its sort key an item is not in the index
            item["GSI1SK"] = {"S": f"s{rng.randint(0, 60):03d}"}  # duplicates: the table keys break ties
    if rng.random() < 0.3:
        item["GSI2PK"] = {"S": "USERS#00"}
        item["GSI2SK"] = {"S": f"{rng.randint(0, 999):06d}"}
    return item


@pytest.fixture
def loaded(db: Any, table_name: str) -> Iterator[random.Random]:
    """Given ~110 items in 20 partitions, most of them in one of five GSI1 buckets."""
    rng = random.Random(10)
    items = [random_item(rng, pk, sk) for pk in range(20) for sk in range(rng.randint(1, 10))]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        db.batch_write_item(RequestItems={table_name: requests})
    yield rng


def pages(db: Any, operation: str, **request: Any) -> list[dict[str, Any]]:
    """Every page of a query or scan, as answered (without the transport metadata)."""
    answers = []
    while True:
        answer = getattr(db, operation)(**request)
        answer.pop("ResponseMetadata", None)
        answers.append(answer)
        if "LastEvaluatedKey" not in answer or len(answers) > 300:
            return answers
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def requests(table: str) -> list[tuple[str, dict[str, Any]]]:
    """Queries and scans of every shape the code uses, and more."""
    conditions = [
        ("GSI1PK = :b", {}),
        ("GSI1PK = :b AND begins_with(GSI1SK, :p)", {":p": {"S": "s01"}}),
        ("GSI1PK = :b AND GSI1SK BETWEEN :lo AND :hi", {":lo": {"S": "s010"}, ":hi": {"S": "s040"}}),
        ("GSI1PK = :b AND GSI1SK < :hi", {":hi": {"S": "s030"}}),
        ("GSI1PK = :b AND GSI1SK >= :lo", {":lo": {"S": "s030"}}),
    ]
    shapes: list[tuple[str, dict[str, Any]]] = []
    for bucket in BUCKETS[:2]:
        for expression, values in conditions:
            for forward in (True, False):
                for limit in (None, 4) if bucket == BUCKETS[0] else (3,):
                    request: dict[str, Any] = {
                        "TableName": table,
                        "IndexName": "GSI1",
                        "KeyConditionExpression": expression,
                        "ExpressionAttributeValues": {":b": {"S": bucket}, **values},
                        "ScanIndexForward": forward,
                    }
                    if limit:
                        request["Limit"] = limit
                    shapes.append(("query", request))
    shapes.append(
        (
            "query",
            {
                "TableName": table,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :b",
                "FilterExpression": "n > :five",
                "ProjectionExpression": "PK, SK, GSI1SK",
                "ExpressionAttributeValues": {":b": {"S": "B#1"}, ":five": {"N": "5"}},
                "Limit": 3,
            },
        )
    )
    shapes.append(
        (
            "query",
            {
                "TableName": table,
                "IndexName": "Directory",
                "KeyConditionExpression": "GSI2PK = :s AND GSI2SK < :before",
                "ExpressionAttributeValues": {":s": {"S": "USERS#00"}, ":before": {"S": "000500"}},
                "ScanIndexForward": False,
                "Limit": 5,
            },
        )
    )
    for pk in ("P#003", "P#017", "P#404"):  # P#404: no such partition
        for forward in (True, False):
            for limit in (None, 2):
                request = {
                    "TableName": table,
                    "KeyConditionExpression": "PK = :p AND SK > :s",
                    "ExpressionAttributeValues": {":p": {"S": pk}, ":s": {"S": "S#01"}},
                    "ScanIndexForward": forward,
                }
                if limit:
                    request["Limit"] = limit
                shapes.append(("query", request))
    for limit in (None, 13):
        shapes.append(("scan", {"TableName": table, **({"Limit": limit} if limit else {})}))
        shapes.append(("scan", {"TableName": table, "IndexName": "GSI1", **({"Limit": limit} if limit else {})}))
    shapes.append(
        (
            "scan",
            {
                "TableName": table,
                "Limit": 9,
                "FilterExpression": "n = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            },
        )
    )
    return shapes


def assert_same_as_walking(db: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counted = db.describe_table(TableName=table)["Table"]["ItemCount"]
    with monkeypatch.context() as walking:
        walking.setattr(moto_patches, "narrowing", False)
        assert counted == db.describe_table(TableName=table)["Table"]["ItemCount"] > 0
    for operation, request in requests(table):
        narrowed = pages(db, operation, **dict(request))
        with monkeypatch.context() as walking:
            walking.setattr(moto_patches, "narrowing", False)
            walked = pages(db, operation, **dict(request))
        assert narrowed == walked, (operation, request)
        assert sum(page["Count"] for page in narrowed) > 0 or "P#404" in str(request), request


def mutate(db: Any, table: str, rng: random.Random) -> None:
    """Every kind of write: puts (new and replacing), updates moving items between buckets or out of an
    index, deletes, committed and cancelled transactions, batch writes."""
    indexed = db.scan(TableName=table, IndexName="GSI1", ProjectionExpression="PK, SK")["Items"]
    for n, key in enumerate(indexed[:12]):  # items of the index first: each kind of write on one of them
        if n % 3 == 0:
            db.delete_item(TableName=table, Key=key)
        elif n % 3 == 1:
            db.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET GSI1PK = :b",
                ExpressionAttributeValues={":b": {"S": BUCKETS[n % 2]}},
            )
        else:
            db.update_item(TableName=table, Key=key, UpdateExpression="REMOVE GSI1SK")
    for step in range(48):
        pk, sk = rng.randint(0, 22), rng.randint(0, 11)
        key = {"PK": {"S": f"P#{pk:03d}"}, "SK": {"S": f"S#{sk:02d}"}}
        kind = step % 6
        if kind == 0:
            db.put_item(TableName=table, Item=random_item(rng, pk, sk))
        elif kind == 1:
            db.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET GSI1PK = :b, GSI1SK = :s",
                ExpressionAttributeValues={":b": {"S": rng.choice(BUCKETS)}, ":s": {"S": f"s{rng.randint(0, 60):03d}"}},
            )
        elif kind == 2:
            db.update_item(TableName=table, Key=key, UpdateExpression="REMOVE GSI1SK")
        elif kind == 3:
            db.delete_item(TableName=table, Key=key)
        elif kind == 4:
            other = random_item(rng, rng.randint(0, 22), 20 + step)
            items: list[dict[str, Any]] = [
                {"Put": {"TableName": table, "Item": other}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "SET GSI1PK = :b",
                        "ExpressionAttributeValues": {":b": {"S": rng.choice(BUCKETS)}},
                    }
                },
            ]
            if step % 12 == 4:  # cancelled: neither write may show in any index
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"PK": {"S": "MISSING"}, "SK": {"S": "X"}},
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    }
                )
            try:
                db.transact_write_items(TransactItems=items)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "TransactionCanceledException"
        else:
            batch = [{"PutRequest": {"Item": random_item(rng, rng.randint(23, 25), n)}} for n in range(5)]
            batch.append({"DeleteRequest": {"Key": key}})
            db.batch_write_item(RequestItems={table: batch})


def test_queries_and_scans_answer_as_walking_the_table(
    db: Any, table_name: str, loaded: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table of ~110 items / When each shape of query and scan is paged through / Then same pages
    assert_same_as_walking(db, table_name, monkeypatch)
    # And after writes of every kind, still
    mutate(db, table_name, loaded)
    assert_same_as_walking(db, table_name, monkeypatch)


def test_a_query_reads_only_its_keys_items(
    db: Any, table_name: str, loaded: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = {"n": 0}
    real = moto_patches._unpack

    def counted(packed: bytes) -> Any:
        unpacked["n"] += 1
        return real(packed)

    monkeypatch.setattr(moto_patches, "_unpack", counted)
    # When a page of 4 is read from an index bucket of ~20 items, in a table of ~110
    page = db.query(
        TableName=table_name,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :b",
        ExpressionAttributeValues={":b": {"S": "B#2"}},
        Limit=4,
    )
    # Then only those items (and the one after, for LastEvaluatedKey) were opened
    assert page["Count"] == 4 and "LastEvaluatedKey" in page
    assert unpacked["n"] <= 5
    # And a table query opens only its partition
    unpacked["n"] = 0
    partition = db.query(
        TableName=table_name,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "P#017"}},
    )
    assert unpacked["n"] == partition["Count"] > 0
