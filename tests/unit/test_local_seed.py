"""`make seed` (localdev/seed.py, issue 10): seeded users are what a sign-up writes, item for item."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localdev import dynamo, seed
from shared.container import Services
from shared.db import keys
from shared.domain import ClientInfo
from shared.errors import InvalidCredentialsError
from shared.services.accounts import RegisterCommand


def raw_items(endpoint: str, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamo.client(endpoint).get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items


def shape(item: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...], str, str]:
    """What an item is made of: its kind, every attribute with its type, and its key formats (ids,
    numbers and names replaced by placeholders)."""

    def pattern(value: str) -> str:
        value = re.sub(r"[0-9a-f]{32}", "<id>", value)
        value = re.sub(r"(seed|alice)[a-z0-9]*", "<name>", value)
        return re.sub(r"\d+", "<n>", value)

    return (
        item["type"]["S"],
        tuple(sorted((name, next(iter(value))) for name, value in item.items())),
        pattern(item["PK"]["S"]),
        pattern(item["SK"]["S"]),
    )


def of_user(items: list[dict[str, Any]], user_id: str, username: str) -> list[dict[str, Any]]:
    mine = [item for item in items if user_id in str(item) or f"UNAME#{username}" == item["PK"]["S"]]
    return sorted(mine, key=lambda item: item["type"]["S"])


def test_a_seeded_user_is_what_a_sign_up_writes(
    services: Services, dynamo_endpoint: str, table_name: str, scan_table: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a user who signed up, and a seeded one, in the same table
    signed_up = services.accounts.register(
        RegisterCommand(username="alice", password="secret123"), ClientInfo(ip="127.0.0.1", user_agent="curl")
    )
    out = io.StringIO()
    assert seed.seed(dynamo_endpoint, table_name, 1, out=out) == 5
    assert "seeded 1/1 users (5 items)" in out.getvalue()

    # Then the seeded user's items are the sign-up's, item for item, attribute for attribute
    items = raw_items(dynamo_endpoint, table_name)
    seeded_id = next(item["user_id"]["S"] for item in items if item["PK"]["S"] == "UNAME#seed000000")
    registered = of_user(items, signed_up.user_id, "alice")
    seeded = of_user(items, seeded_id, "seed000000")
    assert [item["type"]["S"] for item in registered] == ["claim", "event", "session", "user", "user_role"]
    assert [shape(item) for item in seeded] == [shape(item) for item in registered]
    # And its index keys put it in the directory and among its role's members, in its own shard
    user = next(item for item in seeded if item["type"]["S"] == "user")
    link = next(item for item in seeded if item["type"]["S"] == "user_role")
    assert user["GSI2PK"]["S"] == keys.directory_gsi2pk(keys.shard_of(seeded_id))
    assert link["GSI1PK"]["S"].endswith(f"#{keys.shard_of(seeded_id):02d}")
    reference = next(item for item in registered if item["type"]["S"] == "user_role")
    assert link["GSI1PK"]["S"].rsplit("#", 1)[0] == reference["GSI1PK"]["S"].rsplit("#", 1)[0]


def test_seeded_users_sign_in_with_the_seed_password(services: Services, dynamo_endpoint: str, table_name: str) -> None:
    seed.seed(dynamo_endpoint, table_name, 3, out=None)
    # When a seeded user signs in / Then the password is theirs, and a wrong one is refused
    signed_in = services.accounts.login("seed000002", seed.DEFAULT_PASSWORD, None, ClientInfo())
    assert signed_in.user_id and signed_in.tokens.access_token
    with pytest.raises(InvalidCredentialsError):
        services.accounts.login("seed000001", "not-the-password", None, ClientInfo())


def test_seeding_again_adds_only_new_users(dynamo_endpoint: str, table_name: str) -> None:
    # Given two seeded users
    seed.seed(dynamo_endpoint, table_name, 2, out=None)
    first = {(item["PK"]["S"], item["SK"]["S"]): item for item in raw_items(dynamo_endpoint, table_name)}
    # When users 0 to 2 are seeded
    assert seed.seed(dynamo_endpoint, table_name, 3, out=None) == 5
    after = {(item["PK"]["S"], item["SK"]["S"]): item for item in raw_items(dynamo_endpoint, table_name)}
    # Then the first two are left exactly as they were, and only the third's five items are new
    assert {key: after[key] for key in first} == first
    assert len(after) == len(first) + 5
    assert ("UNAME#seed000002", "CLAIM") in after


def test_without_a_running_server_the_snapshot_is_seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no local server on this data directory (no server.json), and an empty one
    table = f"seed-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TABLE_NAME", table)
    assert seed.running_server(tmp_path) is None
    # When 4 users are seeded
    assert seed.main(["4", "--prefix", "bob"]) == 0
    # Then the snapshot holds them, ready for the next `make run`
    items = list(dynamo.read_snapshot(tmp_path / "dynamodb.json"))
    assert sorted(item["PK"]["S"] for item in items if item["type"]["S"] == "claim") == [
        f"UNAME#bob{n:06d}" for n in range(4)
    ]
    assert len([item for item in items if item["type"]["S"] == "user"]) == 4
    # And seeding it again adds only the new ones
    assert seed.main(["6", "--prefix", "bob"]) == 0
    items = list(dynamo.read_snapshot(tmp_path / "dynamodb.json"))
    assert len([item for item in items if item["type"]["S"] == "user"]) == 6


def test_a_running_server_is_found_by_its_file(tmp_path: Path) -> None:
    import json
    import os

    (tmp_path / "server.json").write_text(json.dumps({"pid": os.getpid(), "dynamodb_endpoint": "x", "table": "t"}))
    assert seed.running_server(tmp_path) == {"pid": os.getpid(), "dynamodb_endpoint": "x", "table": "t"}
    # A file left by a server that is gone (SIGKILL) is not a running server
    (tmp_path / "server.json").write_text(json.dumps({"pid": 2**22 + 1, "dynamodb_endpoint": "x", "table": "t"}))
    assert seed.running_server(tmp_path) is None
