"""The local data snapshot (localdev/dynamo.py) never loses data (issue 16): every DynamoDB type survives a
round trip exactly, and a failed write leaves the previous snapshot as it was."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer

from localdev import dynamo

# One item holding every DynamoDB type, with the values that a plain-JSON snapshot loses.
EVERY_TYPE: dict[str, Any] = {
    "PK": {"S": "TEST#every-type"},
    "SK": {"S": "ITEM"},
    "text": {"S": '中文 "quoted" \\ \n'},
    "huge": {"N": "10000000000000000000000000000000000000000"},  # 10**40: 41 digits, 1 significant
    "precise": {"N": "12345678901234567890123456789012345678"},  # 38 significant digits
    "half": {"N": "1.5"},
    "tiny": {"N": "-0.000000000000000000000000000001"},
    "binary": {"B": bytes(range(256))},
    "strings": {"SS": ["b", "a", "中"]},
    "numbers": {"NS": ["1", "1.5", "10000000000000000000000000000000000000000"]},
    "binaries": {"BS": [b"\x00\xff", b"\x01"]},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "nested": {
        "M": {
            "list": {"L": [{"N": "1.5"}, {"SS": ["x"]}, {"B": b"\x00"}, {"M": {"deep": {"NS": ["2", "3"]}}}]},
            "empty_map": {"M": {}},
            "empty_list": {"L": []},
        }
    },
}


class ExactDeserializer(TypeDeserializer):
    """boto3's deserializer, without its 38-digit context: a number is read exactly as stored."""

    def _deserialize_n(self, value: str) -> Decimal:
        return Decimal(value)


def read_all(endpoint: str, table: str) -> list[dict[str, Any]]:
    """Every item of ``table``, deserialised (sets as sets, numbers as exact Decimals, binary as bytes)."""
    deserializer = ExactDeserializer()
    items = dynamo.client(endpoint).scan(TableName=table)["Items"]
    return sorted(
        ({name: deserializer.deserialize(value) for name, value in item.items()} for item in items),
        key=lambda item: (item["PK"], item["SK"]),
    )


@pytest.fixture
def other_table(dynamo_endpoint: str, table_properties: dict[str, Any]) -> Iterator[str]:
    """A second empty table, as a fresh local server would create it before restoring."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    dynamo.ensure_table(dynamo_endpoint, name, table_properties)
    yield name
    dynamo.client(dynamo_endpoint).delete_table(TableName=name)


def test_every_dynamodb_type_round_trips_exactly(
    dynamo_endpoint: str, table_name: str, other_table: str, tmp_path: Path
) -> None:
    # Given a table holding every DynamoDB type, and more items than one batch write takes
    db = dynamo.client(dynamo_endpoint)
    db.put_item(TableName=table_name, Item=EVERY_TYPE)
    for index in range(30):
        db.put_item(TableName=table_name, Item={"PK": {"S": f"USER#{index}"}, "SK": {"S": "PROFILE"}})
    before = read_all(dynamo_endpoint, table_name)
    # When it is written to a snapshot and loaded into an empty table
    path = tmp_path / "dynamodb.json"
    assert dynamo.snapshot(dynamo_endpoint, table_name, path) == 31
    assert dynamo.restore(dynamo_endpoint, other_table, path) == 31
    # Then every item is back exactly as it was
    after = read_all(dynamo_endpoint, other_table)
    assert after == before
    restored = next(item for item in after if item["PK"] == "TEST#every-type")
    assert restored["huge"] == Decimal(10**40) and restored["half"] == Decimal("1.5")
    assert restored["strings"] == {"a", "b", "中"} and isinstance(restored["strings"], set)
    assert restored["binary"].value == bytes(range(256))
    assert restored["binaries"] == {Binary(b"\x00\xff"), Binary(b"\x01")}
    assert restored["nothing"] is None and restored["flag"] is False
    # And the file is DynamoDB's typed JSON, with binary as base64
    document = json.loads(path.read_text(encoding="utf-8"))
    stored = next(item for item in document["items"] if item["PK"] == {"S": "TEST#every-type"})
    assert stored["huge"] == {"N": "10000000000000000000000000000000000000000"}
    assert sorted(stored["binaries"]["BS"]) == ["AP8=", "AQ=="]


def test_a_failed_write_keeps_the_previous_snapshot(
    dynamo_endpoint: str, table_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a good snapshot on disk
    db = dynamo.client(dynamo_endpoint)
    db.put_item(TableName=table_name, Item={"PK": {"S": "USER#1"}, "SK": {"S": "PROFILE"}})
    path = tmp_path / "dynamodb.json"
    dynamo.snapshot(dynamo_endpoint, table_name, path)
    previous = path.read_bytes()

    # When the next snapshot fails part way through writing (a full disk, say)
    def fail_midway(handle: Any, items: Any) -> int:
        handle.write(next(iter(items)) + b",\n")
        raise OSError(28, "No space left on device")

    db.put_item(TableName=table_name, Item={"PK": {"S": "USER#2"}, "SK": {"S": "PROFILE"}})
    monkeypatch.setattr(dynamo, "_write_items", fail_midway)
    with pytest.raises(OSError):
        dynamo.snapshot(dynamo_endpoint, table_name, path)
    # Then the previous snapshot is untouched and no half-written file is left behind
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamodb.json"]


def test_snapshots_of_the_earlier_format_still_load(dynamo_endpoint: str, table_name: str, tmp_path: Path) -> None:
    # Given a snapshot written by the earlier plain-JSON format
    path = tmp_path / "dynamodb.json"
    path.write_text(json.dumps([{"PK": "USER#1", "SK": "PROFILE", "created_at": 1795305588, "score": 1.5}]))
    # When it is restored / Then its items are loaded as they were written
    assert dynamo.restore(dynamo_endpoint, table_name, path) == 1
    (item,) = read_all(dynamo_endpoint, table_name)
    assert item == {"PK": "USER#1", "SK": "PROFILE", "created_at": Decimal(1795305588), "score": Decimal("1.5")}


def test_no_file_restores_nothing(dynamo_endpoint: str, table_name: str, tmp_path: Path) -> None:
    assert dynamo.restore(dynamo_endpoint, table_name, tmp_path / "missing.json") == 0
    assert read_all(dynamo_endpoint, table_name) == []
