"""`make run` killed hard (issue 10): nothing it started outlives it, and its last data snapshot loads intact."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from localdev import child, dynamo
from localdev.template import read_api

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc; psutil is not a dependency)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def local_server(tmp_path: Path) -> Any:
    """`python -m localdev` (what `make run` runs) in a process of its own, snapshotting every 0.3 s."""
    process, url = child.start(tmp_path, LOCAL_SNAPSHOT_SECONDS="0.3", LOCAL_CONCURRENCY="1")
    yield process, url, tmp_path
    if process.poll() is None:
        process.kill()
    process.wait()


def test_sigkill_leaves_no_process_and_an_intact_snapshot(local_server: Any, dynamo_endpoint: str) -> None:
    process, url, data_dir = local_server
    # Given a user registered on the running server, and a snapshot taken since
    username = f"kill{uuid.uuid4().hex[:10]}"
    answer = requests.post(
        f"{url}/api/auth/register/", json={"username": username, "password": "secret123"}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    snapshot = data_dir / "dynamodb.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (snapshot.exists() and f"UNAME#{username}" in snapshot.read_text()):
        time.sleep(0.1)
    assert f"UNAME#{username}" in snapshot.read_text()
    started = children_of(process.pid)
    server_info = json.loads((data_dir / "server.json").read_text())
    embedded = dynamo.status(server_info["dynamodb_endpoint"])
    assert embedded is not None and embedded["pid"] in started  # the embedded DynamoDB is among them
    assert len(started) >= 2  # and the functions' workers

    # When the server is killed with SIGKILL (no chance to clean up)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    # Then nothing it started is left running
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(pid) for pid in started):
        time.sleep(0.1)
    assert [pid for pid in started if alive(pid)] == []
    # And the snapshot is complete, and loads with the user's items as they were
    items = list(dynamo.read_snapshot(snapshot))
    claim = next(item for item in items if item["PK"] == {"S": f"UNAME#{username}"})
    user = next(
        item for item in items if item["PK"] == {"S": f"USER#{claim['user_id']['S']}"} and item["SK"]["S"] == "PROFILE"
    )
    assert user["username"] == {"S": username}
    table = f"restored-{uuid.uuid4().hex[:8]}"
    dynamo.ensure_table(dynamo_endpoint, table, read_api().table_properties)
    try:
        assert dynamo.restore(dynamo_endpoint, table, snapshot) == len(items)
        restored = dynamo.client(dynamo_endpoint).get_item(TableName=table, Key={"PK": user["PK"], "SK": user["SK"]})
        assert restored["Item"] == user
    finally:
        dynamo.client(dynamo_endpoint).delete_table(TableName=table)
