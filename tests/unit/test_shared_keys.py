"""No hot key: two different users' sign-ups, sign-ins, refreshes and authorizations touch no partition
in common, in the table or in any index (issue 15). Sharded keys (role members, the user directory, the
copies of the role definitions) may be shared by chance, never by all. App settings come from the
container's cache (read once, before the flows measured); role definitions from one of their copies.

Reads are recorded from the requests botocore builds (a ``before-parameter-build`` handler on every client PynamoDB
creates); writes from the table itself, before and after each flow, so that index keys written by an
update expression count too (each changed item's GSI keys, old and new).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand
from tests.unit.helpers import PASSWORD, hook_dynamodb_clients

INDEXES = ("GSI1", "GSI2")


class Touched:
    """Partition keys read (from requests) by the flows run while recording."""

    def __init__(self) -> None:
        self.reads: set[str] = set()

    def before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        if operation in ("GetItem", "DeleteItem", "UpdateItem"):
            self.reads.add(_key(params["Key"]))
        elif operation == "BatchGetItem":
            for request in params["RequestItems"].values():
                self.reads.update(_key(key) for key in request["Keys"])
        elif operation == "TransactGetItems":
            self.reads.update(_key(item["Get"]["Key"]) for item in params["TransactItems"])
        elif operation == "Query":
            self.reads.add(_query_partition(params))
        elif operation == "Scan":
            self.reads.add("table:*SCAN*")


def _key(key: dict[str, Any]) -> str:
    return f"table:{_value(key['PK'])}"


def _value(attribute: dict[str, Any]) -> str:
    return str(next(iter(attribute.values())))


def _query_partition(params: dict[str, Any]) -> str:
    """``<index>:<partition value>`` of a Query (the value its key condition compares the hash key to)."""
    index = params.get("IndexName") or "table"
    names = params.get("ExpressionAttributeNames") or {}
    condition = str(params.get("KeyConditionExpression", ""))
    hash_name = {"table": "PK", "GSI1": "GSI1PK", "GSI2": "GSI2PK"}[index]
    for placeholder, name in names.items():
        if name == hash_name and placeholder in condition:
            after = condition.split(placeholder, 1)[1]
            token = after.split("=", 1)[1].strip().split()[0].strip("()")
            return f"{index}:{_value(params['ExpressionAttributeValues'][token])}"
    return f"{index}:?{condition}"


def partitions(item: dict[str, Any]) -> set[str]:
    """The table partition of an item and the index partitions it is in."""
    keys = {f"table:{item['PK']}"}
    keys.update(f"{index}:{item[f'{index}PK']}" for index in INDEXES if item.get(f"{index}PK"))
    return keys


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch, services: Services) -> Touched:
    recorder = Touched()
    hook_dynamodb_clients(monkeypatch, services, "before-parameter-build.dynamodb", recorder.before_call)
    return recorder


@pytest.fixture
def record(
    touched: Touched, scan_table: Callable[[], list[dict[str, Any]]]
) -> Callable[[Callable[[], Any]], tuple[Any, set[str]]]:
    """Run a flow; its result and every partition it read or wrote."""

    def run(flow: Callable[[], Any]) -> tuple[Any, set[str]]:
        before = {(i["PK"], i["SK"]): i for i in scan_table()}
        touched.reads.clear()
        result = flow()
        after = {(i["PK"], i["SK"]): i for i in scan_table()}
        written: set[str] = set()
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if old != new:
                written |= partitions(old) if old else set()
                written |= partitions(new) if new else set()
        return result, written | touched.reads

    return run


@pytest.fixture
def warm(services: Services) -> Iterator[None]:
    """A first sign-up makes app0's default role (once per app, ever); the flows measured come after."""
    services.accounts.register(RegisterCommand(username="first", password=PASSWORD), ClientInfo())
    yield


# keys spread over keys.SHARDS (index) or keys.ROLE_DEF_COPIES (table) partitions
SHARDED = re.compile(r"^(GSI1:MEMBERS#.+|GSI2:USERS|table:ROLES#.+)#\d+$")
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


def shared_keys(per_user: list[set[str]]) -> set[str]:
    """Keys that are not one user's own: a plain key touched by two users, or a sharded family every
    user wrote to the same shard of (a global key in disguise)."""
    counts: dict[str, int] = {}
    for keys in per_user:
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    plain = {key for key, n in counts.items() if n > 1 and not SHARDED.match(key)}
    families: dict[str, set[str]] = {}
    for key in counts:
        if SHARDED.match(key):
            families.setdefault(key.rsplit("#", 1)[0], set()).add(key)
    single = {family for family, shards in families.items() if len(shards) == 1 and counts[min(shards)] > 1}
    return plain | single


def test_users_touch_no_partition_in_common(services: Services, warm: None, record: Any) -> None:
    flows: dict[str, list[set[str]]] = {}
    for number, name in enumerate(USERS):
        client = ClientInfo(ip=f"198.51.100.{number}")
        _, keys = record(
            lambda name=name, client=client: services.accounts.register(
                RegisterCommand(username=name, password=PASSWORD), client
            )
        )
        flows.setdefault("sign-up", []).append(keys)
        signed_in, keys = record(lambda name=name, client=client: services.accounts.login(name, PASSWORD, None, client))
        flows.setdefault("sign-in", []).append(keys)
        pair, keys = record(lambda signed_in=signed_in: services.sessions.refresh(signed_in.tokens.refresh_token))
        flows.setdefault("refresh", []).append(keys)
        _, keys = record(lambda pair=pair: services.sessions.verify(pair.access_token))
        flows.setdefault("authorization", []).append(keys)

    assert {flow: shared_keys(per_user) for flow, per_user in flows.items()} == {flow: set() for flow in flows}
    # The recorder sees what it should: each user's own item, and the index partitions a sign-up writes
    first = flows["sign-up"][0]
    assert any(key.startswith("table:USER#") for key in first)
    assert any(SHARDED.match(key) for key in first)


def test_the_shared_key_rule_catches_a_global_key() -> None:
    # A plain key touched by two users, and a sharded family every user wrote to one shard of
    assert shared_keys([{"table:USER#a", "table:HOT"}, {"table:USER#b", "table:HOT"}]) == {"table:HOT"}
    one_shard = [{"GSI2:USERS#03"}, {"GSI2:USERS#03"}]
    assert shared_keys(one_shard) == {"GSI2:USERS"}
    assert shared_keys([{"GSI2:USERS#03"}, {"GSI2:USERS#07"}, {"GSI2:USERS#03"}]) == set()
    # The app's items are no exception any more (settings are cached, definitions read from copies)
    assert shared_keys([{"table:APP#app0"}, {"table:APP#app0"}]) == {"table:APP#app0"}
    assert shared_keys([{"table:ROLES#app0#3"}, {"table:ROLES#app0#3"}]) == {"table:ROLES#app0"}
