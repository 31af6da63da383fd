"""Capacity units per flow (issue 15), computed from item sizes as DynamoDB bills them.

moto answers ``ReturnConsumedCapacity`` with constants (1 unit a put, 0.5 a get, nothing for a
transaction), so the units are computed instead:

* reads, from the items each GetItem, BatchGetItem and Query returned (a botocore ``after-call`` hook):
  an item rounds up to 4 KB, a Query's items together; eventually consistent reads cost half;
* writes, from the table before and after the flow (a scan of the small bench table): each item written
  costs its larger size (old or new) rounded up to 1 KB, twice inside a transaction; each index whose copy
  of the item changed costs the copy's size rounded up to 1 KB (a move between index partitions, two).

Item sizes follow DynamoDB's rules closely enough for billing at these sizes: attribute names plus values
(UTF-8 strings, numbers about one byte per two digits, maps and lists with 3 bytes of overhead and one
per element).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.session import Session as BotocoreSession

from bench import report
from bench.dynamo import Dynamo

T = TypeVar("T")
_active: list[Reads] = []


def value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one typed attribute value (``{"S": ...}``, ``{"M": ...}``, ...)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = len(str(raw).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in raw)
    return len(str(raw))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass
class Reads:
    """Read units of the requests one thread makes while active."""

    thread: int = field(default_factory=threading.get_ident)
    units: float = 0.0

    def add(self, items: list[dict[str, Any]], consistent: bool, together: bool) -> None:
        sizes = [item_size(i) for i in items]
        blocks = math.ceil(sum(sizes) / 4096) if together else sum(math.ceil(s / 4096) for s in sizes)
        self.units += max(blocks, 1 if together else 0) * (1.0 if consistent else 0.5)


def _before_call(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["bench_params"] = params


def _after_call(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    params = context.get("bench_params") or {}
    for reads in list(_active):
        if reads.thread != threading.get_ident():
            continue
        if model.name == "GetItem" and parsed.get("Item"):
            reads.add([parsed["Item"]], bool(params.get("ConsistentRead")), together=False)
        elif model.name == "BatchGetItem":
            for table, items in (parsed.get("Responses") or {}).items():
                consistent = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
                reads.add(items, consistent, together=False)
        elif model.name == "Query":
            reads.add(parsed.get("Items") or [], bool(params.get("ConsistentRead")), together=True)


_installed: list[bool] = []


def install() -> None:
    """Hook every DynamoDB client botocore creates from now on (idempotent: once per process)."""
    if _installed:
        return
    _installed.append(True)
    original = BotocoreSession.create_client

    def create_client(self: BotocoreSession, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", _before_call)
            client.meta.events.register("after-call.dynamodb", _after_call)
        return client

    BotocoreSession.create_client = create_client  # type: ignore[method-assign]


@dataclass(frozen=True)
class Cost:
    read_units: float
    table_write_units: int
    index_write_units: int


class Meter:
    """Runs flows against one table and prices them."""

    def __init__(self, dynamo: Dynamo, table_name: str) -> None:
        from localdev.dynamo import client

        self.client = client(dynamo.endpoint)
        self.table_name = table_name
        description = self.client.describe_table(TableName=table_name)["Table"]
        self.indexes: list[tuple[str, list[str] | None]] = []
        for index in description.get("GlobalSecondaryIndexes", []):
            keys = [k["AttributeName"] for k in index["KeySchema"]]
            projection = index["Projection"]
            projected = None if projection["ProjectionType"] == "ALL" else keys + projection.get("NonKeyAttributes", [])
            self.indexes.append((keys[0], projected))

    def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for page in self.client.get_paginator("scan").paginate(TableName=self.table_name):
            for item in page["Items"]:
                items[(item["PK"]["S"], item["SK"]["S"])] = item
        return items

    def price(self, flow: Callable[[], T], transactional: Callable[[], set[tuple[str, str]]]) -> tuple[T, Cost]:
        """Run ``flow``; its result and cost. ``transactional()``: the keys it wrote inside transactions."""
        before = self.snapshot()
        reads = Reads()
        _active.append(reads)
        try:
            result = flow()
        finally:
            _active.remove(reads)
        after = self.snapshot()
        in_tx = transactional()
        table_units = index_units = 0
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            size = max(item_size(old) if old else 0, item_size(new) if new else 0)
            table_units += math.ceil(size / 1024) * (2 if key in in_tx else 1)
            for hash_key, projected in self.indexes:
                index_units += self._index_units(old, new, hash_key, projected)
        return result, Cost(reads.units, table_units, index_units)

    @staticmethod
    def _index_units(
        old: dict[str, Any] | None, new: dict[str, Any] | None, hash_key: str, projected: list[str] | None
    ) -> int:
        def copy(item: dict[str, Any] | None) -> dict[str, Any] | None:
            if not item or hash_key not in item:
                return None
            return item if projected is None else {k: v for k, v in item.items() if k in projected}

        was, now = copy(old), copy(new)
        if was == now:
            return 0
        moved = was is not None and now is not None and was.get(hash_key) != now.get(hash_key)
        units = math.ceil(item_size(now or was or {}) / 1024)
        return units * (2 if moved else 1)


class TransactionKeys:
    """The keys written by TransactWriteItems requests while active (a botocore ``before-parameter-build`` hook)."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name != "TransactWriteItems":
            return
        for entry in params.get("TransactItems", []):
            for kind in ("Put", "Update", "Delete"):
                if kind in entry:
                    key = entry[kind].get("Key") or entry[kind].get("Item") or {}
                    self.keys.add((key["PK"]["S"], key["SK"]["S"]))


def run(dynamo: Dynamo) -> None:
    from shared.domain import ClientInfo
    from shared.schemas import RoleBody
    from shared.services.accounts import RegisterCommand

    install()
    report.heading("9. Capacity units per flow (computed from item sizes; docs/scale.md)")
    tx = TransactionKeys()
    original = BotocoreSession.create_client

    def hooked(self: BotocoreSession, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", tx)
        return client

    BotocoreSession.create_client = hooked  # type: ignore[method-assign]
    try:
        services = dynamo.fresh_services()  # after the hook: its clients are built with it
        meter = Meter(dynamo, services.settings.table_name)
        client = ClientInfo(ip="203.0.113.7", user_agent="bench")
        services.accounts.register(RegisterCommand(username="first", password="correct horse"), client)
        services.role_admin.create(RoleBody(app_name="app0", role_code="editor", permissions=["doc:edit"]))

        def priced(flow: Callable[[], T]) -> tuple[T, Cost]:
            tx.keys.clear()
            return meter.price(flow, lambda: set(tx.keys))

        command = RegisterCommand(username="alice", password="correct horse", email="alice@example.com")
        alice, sign_up = priced(lambda: services.accounts.register(command, client))
        signed_in, sign_in = priced(lambda: services.accounts.login("alice", "correct horse", None, client))
        pair, refresh = priced(lambda: services.sessions.refresh(signed_in.tokens.refresh_token))
        _, authorize = priced(lambda: services.sessions.verify(pair.access_token))
        _, assign = priced(lambda: services.roles.assign(alice.user_id, "app0", "editor"))
        edit = RoleBody(permissions=["doc:edit", "doc:publish"])
        _, role_edit = priced(lambda: services.role_admin.update("app0:editor", edit))
    finally:
        BotocoreSession.create_client = original  # type: ignore[method-assign]

    rows = []
    for name, cost in (
        ("sign-up (password, email)", sign_up),
        ("sign-in (password)", sign_in),
        ("refresh", refresh),
        ("authorized call (authorizer read)", authorize),
        ("role assign", assign),
        ("role edit (definitions + 8 copies)", role_edit),
    ):
        writes = (cost.table_write_units, cost.index_write_units, cost.table_write_units + cost.index_write_units)
        rows.append([name, f"{cost.read_units:g}", *(str(n) for n in writes)])
    report.table(["flow", "read units", "write units (table)", "write units (indexes)", "write units"], rows, "<>>>>")
    report.note(
        "a sign-in within the hour of the last writes no index (last_login_at moves at most hourly). Multiply by "
        "the rates of docs/scale.md for the table's throughput."
    )


def shared_keys_result() -> None:
    """Run the shared-key test (tests/unit/test_shared_keys.py) and print its outcome."""
    import subprocess
    import sys

    report.heading("11. Shared partition keys between users (tests/unit/test_shared_keys.py)")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/unit/test_shared_keys.py"],
        capture_output=True,
        text=True,
        check=False,
    )
    summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
    print(f"  {'PASS' if done.returncode == 0 else 'FAIL'}: {summary}")
    report.note(
        "8 users' sign-ups, sign-ins, refreshes and authorizations touch no partition key in common, in the table "
        "or any index (sharded keys only by chance, never all in one shard); app settings come from the container "
        "cache, role definitions from the reader's copy."
    )
