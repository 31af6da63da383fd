"""The embedded DynamoDB of local mode (localdev/dynamo.py, issue 10): patched only for the moto it was
written for, moto as released on request, and its own requests (bulk load, status)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from localdev import dynamo, moto_patches


def test_the_patches_refuse_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given another moto than the one the patches were written for
    monkeypatch.setattr(moto_patches.importlib.metadata, "version", lambda name: "5.3.0")
    # Then applying them fails, naming both versions
    with pytest.raises(moto_patches.PatchError, match=r"5\.2\.5.*5\.3\.0"):
        moto_patches.apply()
    # Unless moto as released is asked for
    monkeypatch.setenv("LOCAL_MOTO_UNPATCHED", "1")
    assert moto_patches.apply() is False


@pytest.mark.parametrize("unpatched", ["0", "1"])
def test_local_mode_can_run_moto_as_released(unpatched: str) -> None:
    # When the embedded DynamoDB of local mode starts in its own process, with or without the patches
    embedded = dynamo.EmbeddedDynamo(
        separate_process=True, environment={**os.environ, "LOCAL_MOTO_UNPATCHED": unpatched}
    )
    endpoint = embedded.start()
    try:
        status = dynamo.status(endpoint)
        # Then it says which it runs, and its process and memory
        assert status is not None
        assert status["patched"] is (unpatched == "0")
        assert status["pid"] == embedded.pid != os.getpid()
        assert status["rss_bytes"] == pytest.approx(dynamo.resident_memory(embedded.pid), rel=0.5)
    finally:
        embedded.stop()


def test_another_dynamodb_has_no_status() -> None:
    assert dynamo.status("http://127.0.0.1:9") is None


def test_items_loaded_in_bulk_replace_as_put_item_does(dynamo_endpoint: str, table_name: str) -> None:
    db = dynamo.client(dynamo_endpoint)
    db.put_item(TableName=table_name, Item={"PK": {"S": "A"}, "SK": {"S": "X"}, "old": {"S": "yes"}})
    items: list[dict[str, Any]] = [
        {"PK": {"S": "A"}, "SK": {"S": "X"}, "GSI1PK": {"S": "G"}, "GSI1SK": {"S": "1"}},
        {"PK": {"S": "B"}, "SK": {"S": "X"}, "GSI1PK": {"S": "G"}, "GSI1SK": {"S": "2"}, "n": {"N": "1.50"}},
    ]
    # When two items are loaded in bulk, one over an existing item
    body = b"\n".join(json.dumps(item).encode() for item in items)
    answer = dynamo.admin(dynamo_endpoint, "load", body=body, table=table_name, region="us-east-1")
    # Then both are there as given (the old one replaced), counted once, and in the index
    assert answer == {"items": 2}
    assert db.get_item(TableName=table_name, Key={"PK": {"S": "A"}, "SK": {"S": "X"}})["Item"] == items[0]
    assert db.describe_table(TableName=table_name)["Table"]["ItemCount"] == 2
    found = db.query(
        TableName=table_name,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    assert found == items


def test_a_bulk_load_into_a_missing_table_is_refused(dynamo_endpoint: str) -> None:
    with pytest.raises(RuntimeError, match="no table"):
        dynamo.admin(dynamo_endpoint, "load", body=b"{}", table="no-such-table", region="us-east-1")
