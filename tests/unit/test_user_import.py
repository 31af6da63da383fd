"""Importing the replaced systems' users (issue 12, API.md section 13) through the real services: rows
with their password hashes, one person joined across systems, re-sending changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.container import Services
from shared.db import keys
from shared.db.models import ClaimItem, UserItem
from shared.domain import ClientInfo
from shared.errors import PermissionDeniedError
from shared.schemas import ImportBody
from shared.services.admin_scope import Caller
from tests.unit.test_legacy_passwords import bcrypt_hash, django_hash

CLIENT = ClientInfo(ip="198.51.100.3", user_agent="pytest")
ROOT = Caller(user_id="root", app_name="app0", roles=frozenset({"admin"}), permissions=frozenset({"system:user:add"}))


def run(services: Services, rows: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    body = ImportBody(rows=rows, **options)
    return [r.as_data() for r in services.admin.import_users(ROOT, body)]


def test_rows_are_created_with_their_hashes_and_sign_in_then_resending_changes_nothing(services: Services) -> None:
    rows = [
        {
            "external_id": "hertz:1",
            "username": "alice",
            "email": "Alice@Example.com",
            "password_hash": django_hash("pw-alice-1"),
        },
        {
            "external_id": "rest:9",
            "username": "bob",
            "phone": "13800138001",
            "password_hash": bcrypt_hash("pw-bob-1", b"2a"),
        },
        {"external_id": "zxw:3", "username": "carol", "roles": {"app0": ["l0"]}, "status": "disabled"},
    ]
    first = run(services, rows)
    assert [r["status"] for r in first] == ["created", "created", "created"]
    assert services.accounts.login("alice@example.com", "pw-alice-1", None, CLIENT).user_id == first[0]["user_id"]
    assert services.accounts.login("13800138001", "pw-bob-1", None, CLIENT).user_id == first[1]["user_id"]
    carol = services.accounts.get(first[2]["user_id"], "app0")
    assert carol.user.status == "disabled" and [g.role_code for g in carol.grants] == ["l0"]
    again = run(services, rows)
    assert [r["status"] for r in again] == ["unchanged"] * 3
    assert [r["user_id"] for r in again] == [r["user_id"] for r in first]


def test_two_systems_rows_for_one_phone_become_one_user_with_both_sign_in_methods(services: Services) -> None:
    rows = [
        {
            "external_id": "hertz:7",
            "username": "dave",
            "phone": "13800138007",
            "password_hash": django_hash("pw-dave-1"),
        },
        {
            "external_id": "miniapp:42",
            "phone": "+86 138 0013 8007",
            "nickname": "Dave W",
            "wechat": [{"app_id": "wxmini", "type": "miniapp", "open_id": "o-dave", "union_id": "u-dave"}],
        },
    ]
    results = run(services, rows)
    assert [r["status"] for r in results] == ["created", "merged"]
    user_id = results[0]["user_id"]
    assert results[1]["user_id"] == user_id
    record = services.accounts.get(user_id)
    assert {a.provider for a in record.accounts} == {"password", "wechat"}
    assert record.user.union_id == "u-dave" and record.user.nickname == "dave"  # its own values stay
    owners = {
        c.pk: c.user_id
        for c in ClaimItem.batch_get(
            [(keys.union_claim("u-dave"), "CLAIM"), (keys.account_claim("wechat", "wxmini", "o-dave"), "CLAIM")]
        )
    }
    assert set(owners.values()) == {user_id} and len(owners) == 2
    item = UserItem.get(keys.user_pk(user_id), keys.PROFILE)
    assert sorted(item.external_ids) == ["hertz:7", "miniapp:42"]
    assert services.accounts.login("dave", "pw-dave-1", None, CLIENT).user_id == user_id


def test_conflicts_are_reported_never_silently_joined(services: Services) -> None:
    base = run(
        services,
        [
            {"external_id": "a:1", "username": "erin", "email": "erin@example.com"},
            {"external_id": "a:2", "username": "frank", "phone": "13800138002"},
        ],
    )
    assert [r["status"] for r in base] == ["created", "created"]
    results = run(
        services,
        [
            {"external_id": "b:1", "email": "erin@example.com", "phone": "13800138002"},  # two different people
            {"external_id": "b:2", "username": "erin", "email": "other@example.com"},  # someone else's username
            {"external_id": "b:3", "email": "erin@example.com", "nickname": "E"},  # a match, but conflicts asked
        ],
        on_match="conflict",
    )
    assert [r["status"] for r in results] == ["conflict", "conflict", "conflict"]
    assert (
        results[0]["reason"] == "names 2 different users" and results[1]["reason"] == "username taken by another user"
    )
    assert not ClaimItem.count(keys.email_claim("other@example.com"))


def test_invalid_rows_name_their_fields_and_the_others_go_on(services: Services) -> None:
    results = run(
        services,
        [
            {"external_id": "x:1", "email": "not-an-email", "password_hash": "md5$abc$def"},
            {"external_id": "x:2", "username": "gina", "roles": {"app0": ["no-such-role"]}},
            {"external_id": "nocolon"},
            {"external_id": "x:4", "username": "hank"},
        ],
    )
    assert [r["status"] for r in results] == ["invalid", "invalid", "invalid", "created"]
    assert set(results[0]["fields"]) == {"email", "password_hash"}
    assert "roles.app0" in results[1]["fields"] and "external_id" in results[2]["fields"]


def test_a_dry_run_writes_nothing_and_only_the_super_admin_imports(services: Services, scan_table) -> None:
    before = len(scan_table())
    results = run(services, [{"external_id": "d:1", "username": "ivy"}], dry_run=True)
    assert results[0]["status"] == "created" and len(scan_table()) == before
    app0_admin = Caller(
        user_id="x", app_name="app0", roles=frozenset({"ops"}), permissions=frozenset({"system:user:add"})
    )
    with pytest.raises(PermissionDeniedError):
        services.admin.import_users(app0_admin, ImportBody(rows=[{"external_id": "d:1", "username": "ivy"}]))


def test_an_exported_user_id_and_native_hash_are_kept(services: Services) -> None:
    native = bcrypt_hash("pw-jo-1", b"2b", rounds=services.settings.bcrypt_rounds)
    row = {
        "external_id": "uc:abc",
        "user_id": "u-roundtrip-0001",
        "username": "jo",
        "password_hash": native,
        "password_native": True,
    }
    assert run(services, [row])[0] == {"external_id": "uc:abc", "status": "created", "user_id": "u-roundtrip-0001"}
    assert UserItem.get(keys.user_pk("u-roundtrip-0001"), keys.PROFILE).password_hash == native


def test_export_then_import_into_an_empty_stack_exports_the_same(
    services: Services, make_services, dynamo_endpoint: str, table_properties: dict[str, Any], senders
) -> None:
    """Every kind of user this service holds, exported, imported into another table, exported again."""
    import uuid

    from localdev.dynamo import client, ensure_table
    from shared.schemas import AppBody
    from shared.services.accounts import RegisterCommand

    services.apps.create(AppBody(app_name="shop"))
    services.accounts.register(
        RegisterCommand(username="native", password="pw-native-1", email="n@example.com"), CLIENT
    )
    services.roles.assign(services.accounts.login("native", "pw-native-1", None, CLIENT).user_id, "shop", "editor")
    run(
        services,
        [
            {
                "external_id": "hertz:7",
                "username": "dave",
                "phone": "13800138007",
                "password_hash": django_hash("pw-dave-1"),
            },
            {
                "external_id": "miniapp:42",
                "phone": "13800138007",
                "wechat": [{"app_id": "wxmini", "open_id": "o-d", "union_id": "u-d"}],
            },
            {"external_id": "rest:3", "username": "olga", "status": "disabled", "roles": {"app0": ["l0"]}},
        ],
    )

    def export(svc: Services) -> list[dict[str, Any]]:
        root = Caller(user_id="root", app_name="app0", roles=frozenset({"admin"}), permissions=frozenset())
        rows, cursor = svc.admin.export_users(root, 2, None, CLIENT)
        while cursor:
            more, cursor = svc.admin.export_users(root, 2, cursor, CLIENT)
            rows += more
        return sorted(rows, key=lambda r: r["user_id"])

    first = export(services)
    assert len(first) == 3 and all(r.get("password_hash") or not r["methods"] for r in first)
    dave = next(r for r in first if r.get("username") == "dave")
    assert dave["external_ids"] == ["hertz:7", "miniapp:42"] and dave["wechat"][0]["union_id"] == "u-d"
    assert dave["password_hash"].startswith("pbkdf2_sha256$") and dave["password_native"] is False

    other = f"test-{uuid.uuid4().hex[:12]}"
    ensure_table(dynamo_endpoint, other, table_properties)
    try:
        empty = make_services(table_name=other, senders=senders)
        empty.apps.create(AppBody(app_name="shop"))
        empty.apps.ensure_role("shop", "editor")  # the roles an import names exist in the target app
        results = run(empty, first)
        assert [r["status"] for r in results] == ["created"] * 3, results
        assert export(empty) == first
        assert all(r["status"] == "unchanged" for r in run(empty, first))  # idempotent
        native = next(r for r in first if r.get("username") == "native")
        assert empty.accounts.login("native", "pw-native-1", None, CLIENT).user_id == native["user_id"]
    finally:
        client(dynamo_endpoint).delete_table(TableName=other)


def test_a_request_writes_many_new_users_to_a_transaction(services: Services, monkeypatch) -> None:
    """1,000 rows must fit in one function's time: new users are written several to a transaction."""
    from pynamodb.connection.base import Connection

    calls: list[str] = []
    dispatch = Connection.dispatch

    def counted(self: Connection, operation: str, data: dict[str, Any]) -> Any:
        calls.append(operation)
        return dispatch(self, operation, data)

    monkeypatch.setattr(Connection, "dispatch", counted)
    rows = [
        {"external_id": f"bulk:{i}", "username": f"bulk{i:03d}", "email": f"bulk{i}@example.com"} for i in range(120)
    ]
    results = run(services, rows)
    assert [r["status"] for r in results] == ["created"] * 120
    # each user is 5 items (3 claims, the user, the audit event): 20 to a transaction of at most 100
    assert calls.count("TransactWriteItems") == 6
    assert calls.count("BatchGetItem") <= 5  # the owners of 360 claims, read 100 at a time
    assert len({r["user_id"] for r in results}) == 120


def test_a_claim_lost_meanwhile_costs_only_its_own_row(services: Services) -> None:
    """``create_many``: a transaction of several users that fails is retried user by user."""
    from shared.db.users import ClaimTakenError, NewUser
    from shared.domain import User

    taken = run(services, [{"external_id": "x:0", "username": "early", "email": "taken@example.com"}])[0]
    users = [
        NewUser(User(user_id=f"late-{i}", username=f"late{i}", email=email, created_at=1.0), claims, [], [])
        for i, (email, claims) in enumerate(
            [
                ("a@example.com", [keys.email_claim("a@example.com")]),
                ("taken@example.com", [keys.email_claim("taken@example.com")]),
                ("b@example.com", [keys.email_claim("b@example.com")]),
            ]
        )
    ]
    answers = services.accounts.users.create_many(users)
    assert answers[0] is None and answers[2] is None
    assert isinstance(answers[1], ClaimTakenError) and answers[1].claim == keys.email_claim("taken@example.com")
    owners = services.accounts.users.claim_owners([keys.email_claim(f"{c}@example.com") for c in "ab"])
    assert sorted(owners.values()) == ["late-0", "late-2"]
    assert services.accounts.users.load("late-1") is None
    assert owners.get(keys.email_claim("taken@example.com")) is None  # read only a and b
    assert services.accounts.users.claim_owners([keys.email_claim("taken@example.com")]) == {
        keys.email_claim("taken@example.com"): taken["user_id"]
    }


def test_export_pages_hold_every_user_once(services: Services) -> None:
    rows = [{"external_id": f"pg:{i}", "username": f"page{i:02d}"} for i in range(23)]
    made = {r["user_id"] for r in run(services, rows)}
    root = Caller(user_id="root", app_name="app0", roles=frozenset({"admin"}), permissions=frozenset())
    seen: list[str] = []
    exported, cursor = services.admin.export_users(root, 4, None, CLIENT)
    pages = 1
    while cursor:
        seen += [r["user_id"] for r in exported]
        exported, cursor = services.admin.export_users(root, 4, cursor, CLIENT)
        pages += 1
    seen += [r["user_id"] for r in exported]
    assert made <= set(seen) and len(seen) == len(set(seen))
    assert pages >= 6  # pages of at most 4
