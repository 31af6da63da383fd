"""Data written by the previous version keeps working after an upgrade (shared/migrations.py)."""

from __future__ import annotations

from shared.container import Services
from shared.db.keys import ROLE_DEF_COPIES, username_claim
from shared.db.models import AccountItem, ClaimItem, RoleDefsItem, RoleItem, SchemaItem, UserItem, UserRoleItem
from shared.domain import ClientInfo
from shared.migrations import migrate
from shared.schemas import RoleBody
from shared.services.catalog import SYSTEM_PERMISSIONS
from shared.services.passwords import BcryptHasher
from tests.unit.helpers import PASSWORD, user_info_of


def old_user(user_id: str, username: str, roles: list[str]) -> None:
    """A user as the previous version wrote it: links with copied permissions, an account item, one
    directory partition, no ``roles``/``sessions``/``accounts`` on the user item."""
    UserItem(
        pk=f"USER#{user_id}",
        sk="PROFILE",
        user_id=user_id,
        username=username,
        nickname=username,
        password_hash=BcryptHasher(4).hash(PASSWORD),
        created_at=1_790_000_000,
        gsi2pk="USERS",
        gsi2sk=f"{1_790_000_000_000:015d}#{user_id}",
    ).save()
    AccountItem(
        pk=f"USER#{user_id}",
        sk=f"ACCOUNT#password#-#{user_id}",
        user_id=user_id,
        provider="password",
        open_id=user_id,
        created_at=1_790_000_000,
    ).save()
    for code in roles:
        UserRoleItem(
            pk=f"USER#{user_id}",
            sk=f"ROLE#app0#{code}",
            gsi1pk=f"ROLE#app0#{code}",
            gsi1sk=f"USER#{user_id}",
            user_id=user_id,
            app_name="app0",
            role_code=code,
            role_id=f"app0:{code}",
            created_at=0,
        ).save()
    ClaimItem(pk=username_claim(username), sk="CLAIM", user_id=user_id).save()


def test_an_upgraded_table_signs_in_with_the_same_rights(services: Services) -> None:
    # Given the previous version's data: two roles without epochs or definitions, a super admin and a user
    for code, permissions in (("admin", list(SYSTEM_PERMISSIONS)), ("l0", [])):
        RoleItem(
            pk="APP#app0",
            sk=f"ROLE#{code}",
            role_id=f"app0:{code}",
            app_name="app0",
            role_code=code,
            role_name=code,
            permissions=permissions,
            created_at=0,
        ).save()
    old_user("0000root", "root", ["admin", "l0"])
    old_user("0000bob0", "bob", ["l0"])

    # When the migration runs (twice: it is idempotent)
    first = migrate(services.apps.apps)
    assert first == {"roles": 2, "users": 2}
    assert migrate(services.apps.apps) == {"roles": 0, "users": 0}

    # Then the super admin signs in with every permission, and the directory and member index find them
    root = services.accounts.login("root", PASSWORD, None, ClientInfo())
    assert set(user_info_of(root)["permissions"]) == set(SYSTEM_PERMISSIONS)
    assert services.sessions.verify(root.tokens.access_token)[1].roles == ["admin", "l0"]
    assert [a["provider"] for a in user_info_of(root)["accounts"]] == ["password"]
    listed = services.user_admin.list_users("app0", {}, 10)
    assert {u.username for u in listed.items} == {"root", "bob"}
    assert sorted(services.role_admin.holders("app0:l0")) == ["0000bob0", "0000root"]


def test_role_definitions_without_copies_are_read_from_the_primary_until_the_migration_copies_them(
    services: Services, sign_up, scan_table
) -> None:
    # Given a user holding a role with a permission, and data as schema 2 left it: no copies yet
    alice = sign_up("alice")
    services.role_admin.create(RoleBody(app_name="app0", role_code="editor", permissions=["doc:edit"]))
    services.roles.assign(alice.user_id, "app0", "editor")
    copies = [(i["PK"], i["SK"]) for i in scan_table() if str(i["PK"]).startswith("ROLES#")]
    assert len(copies) == ROLE_DEF_COPIES  # app0's, written with each role change
    for pk, sk in copies:
        RoleDefsItem(pk=pk, sk=sk).delete()
    SchemaItem(pk="SCHEMA", sk="SCHEMA", version=2).save()

    # When the user's rights are checked before the migration, then they come from the primary item
    assert "doc:edit" in services.sessions.verify(alice.tokens.access_token)[1].permissions

    # And a copy written meanwhile by a newer role change is kept by the migration, the others written
    primary = RoleDefsItem.get("APP#app0", "ROLES")
    newer = RoleDefsItem(pk=copies[0][0], sk="ROLES", app_name="app0", defs={}, version=primary.version + 1)
    newer.save()
    migrate(services.apps.apps)
    after = {i["PK"]: i for i in scan_table() if str(i["PK"]).startswith("ROLES#")}
    assert len(after) == ROLE_DEF_COPIES
    assert after[copies[0][0]]["version"] == primary.version + 1
    assert {i["version"] for pk, i in after.items() if pk != copies[0][0]} == {primary.version}
