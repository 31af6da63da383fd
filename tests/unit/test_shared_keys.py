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
from shared.db.models import DIRECTORY_ATTRIBUTES
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand
from tests.unit.helpers import PASSWORD, hook_dynamodb_clients

# Each index: its hash key attribute, and what it projects (None: every attribute).
INDEXES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "GSI1": ("GSI1PK", None),
    "Directory": ("GSI2PK", ("GSI2PK", "GSI2SK", *DIRECTORY_ATTRIBUTES)),
}


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
    hash_name = "PK" if index == "table" else INDEXES[index][0]
    for placeholder, name in names.items():
        if name == hash_name and placeholder in condition:
            after = condition.split(placeholder, 1)[1]
            token = after.split("=", 1)[1].strip().split()[0].strip("()")
            return f"{index}:{_value(params['ExpressionAttributeValues'][token])}"
    return f"{index}:?{condition}"


def index_copy(item: dict[str, Any] | None, hash_name: str, projected: tuple[str, ...] | None) -> Any:
    """What an index holds of an item (None: the item is not in it)."""
    if not item or not item.get(hash_name):
        return None
    return item if projected is None else {k: item.get(k) for k in projected}


def partitions(old: dict[str, Any] | None, new: dict[str, Any] | None) -> set[str]:
    """The partitions a change of an item writes: its table partition, and each index partition it is
    (or was) in whose copy changed (an index projecting some attributes is not written when only
    others change)."""
    keys = {f"table:{item['PK']}" for item in (old, new) if item}
    for index, (hash_name, projected) in INDEXES.items():
        if index_copy(old, hash_name, projected) != index_copy(new, hash_name, projected):
            keys.update(f"{index}:{item[hash_name]}" for item in (old, new) if item and item.get(hash_name))
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
                written |= partitions(old, new)
        return result, written | touched.reads

    return run


@pytest.fixture
def warm(services: Services) -> Iterator[None]:
    """A first sign-up makes app0's default role (once per app, ever); the flows measured come after."""
    services.accounts.register(RegisterCommand(username="first", password=PASSWORD), ClientInfo())
    yield


# keys spread over keys.SHARDS (index) or keys.ROLE_DEF_COPIES (table) partitions
SHARDED = re.compile(r"^(GSI1:MEMBERS#.+|Directory:USERS|table:ROLES#.+)#\d+$")
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
    one_shard = [{"Directory:USERS#03"}, {"Directory:USERS#03"}]
    assert shared_keys(one_shard) == {"Directory:USERS"}
    assert shared_keys([{"Directory:USERS#03"}, {"Directory:USERS#07"}, {"Directory:USERS#03"}]) == set()
    # The app's items are no exception any more (settings are cached, definitions read from copies)
    assert shared_keys([{"table:APP#app0"}, {"table:APP#app0"}]) == {"table:APP#app0"}
    assert shared_keys([{"table:ROLES#app0#3"}, {"table:ROLES#app0#3"}]) == {"table:ROLES#app0"}


def test_the_directory_index_holds_what_a_page_shows_and_no_secret(
    services: Services, warm: None, record: Any, dynamo_endpoint: str, table_name: str
) -> None:
    # Given a user who signed up and signed in
    from localdev.dynamo import client
    from localdev.template import read_api
    from shared.db.keys import directory_gsi2pk, shard_of

    alice = services.accounts.register(RegisterCommand(username="alice", password=PASSWORD), ClientInfo())
    # When she signs in again (her sessions map, attempt counter and last_login_at change)
    _, keys = record(lambda: services.accounts.login("alice", PASSWORD, None, ClientInfo()))
    # Then the sign-in wrote no index partition (last_login_at is written at most hourly)
    assert not [key for key in keys if not key.startswith("table:")]
    # And an hour later one sign-in records itself in the directory
    services.clock.advance(3600)  # type: ignore[attr-defined]
    _, later = record(lambda: services.accounts.login("alice", PASSWORD, None, ClientInfo()))
    assert [key for key in later if not key.startswith("table:")] == [
        f"Directory:{directory_gsi2pk(shard_of(alice.user_id))}"
    ]

    # Then the directory's copy of her is the projected attributes only: no hash, sessions or counters
    answer = client(dynamo_endpoint).query(
        TableName=table_name,
        IndexName="Directory",
        KeyConditionExpression="GSI2PK = :pk",
        ExpressionAttributeValues={":pk": {"S": directory_gsi2pk(shard_of(alice.user_id))}},
    )
    [item] = [i for i in answer["Items"] if i["user_id"]["S"] == alice.user_id]
    assert set(item) <= {"PK", "SK", "GSI2PK", "GSI2SK", *DIRECTORY_ATTRIBUTES}
    assert not {"password_hash", "sessions", "login_fails", "rev", "ver", "roles"} & set(item)
    # And the template projects exactly what the model says
    [index] = [i for i in read_api().table_properties["GlobalSecondaryIndexes"] if i["IndexName"] == "Directory"]
    assert sorted(index["Projection"]["NonKeyAttributes"]) == sorted(DIRECTORY_ATTRIBUTES)


def test_no_index_copies_a_password_hash(services: Services, warm: None, scan_table) -> None:
    # Given a user, and one she invited
    alice = services.accounts.register(RegisterCommand(username="alice", password=PASSWORD), ClientInfo())
    bob = services.accounts.register(
        RegisterCommand(username="bob", password=PASSWORD, referer_id=alice.user_id), ClientInfo()
    )
    # Then no item holding a hash is in GSI1 (projecting everything); the Directory projects no hash
    assert [i["PK"] for i in scan_table() if "password_hash" in i and "GSI1PK" in i] == []
    assert "password_hash" not in DIRECTORY_ATTRIBUTES
    # And her invitees are listed from their own entries
    assert [u.user_id for u in services.code_flows.invitees(alice.user_id)] == [bob.user_id]
