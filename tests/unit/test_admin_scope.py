"""The admin-scope rule (API.md section 4) as a function, its inputs, and the services' own guards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import Settings
from shared.container import Services
from shared.domain import Role, RoleGrant, User, UserRecord
from shared.errors import ConfigurationError, PermissionDeniedError, ValidationError
from shared.schemas import AppBody, RoleBody
from shared.services.accounts import SignedIn
from shared.services.admin_scope import Caller, Target, UserAccess, decide, permissions_of
from shared.services.catalog import SYSTEM_PERMISSIONS
from tests.unit.helpers import create_app

ALL = frozenset(SYSTEM_PERMISSIONS)


def caller(
    app: str = "shop", permissions: frozenset[str] = ALL, roles: frozenset[str] = frozenset({"admin"})
) -> Caller:
    return Caller(user_id="me", app_name=app, roles=roles, permissions=permissions)


def person(*grants: tuple[str, str, list[str]], user_id: str = "them") -> UserRecord:
    return UserRecord(
        user=User(user_id=user_id),
        grants=[RoleGrant(app, code, f"{app}:{code}", code, list(perms)) for app, code, perms in grants],
    )


ROOT = caller("app0")  # role admin of app0, signed in to app0: the super admin
SHOP_ADMIN = caller("shop")
SUPER = person(("app0", "admin", sorted(ALL)))
MEMBER = person(("shop", "l0", []))
OUTSIDER = person(("app0", "l0", []))
APP0_EDITOR = person(("app0", "editor", ["system:user:edit"]), ("shop", "l0", []))


@pytest.mark.parametrize(
    ("who", "permission", "target", "allowed"),
    [
        # the token's app only; the super admin everywhere
        (SHOP_ADMIN, "system:role:add", Target(app="shop"), True),
        (SHOP_ADMIN, "system:role:add", Target(app="app0"), False),
        (ROOT, "system:role:add", Target(app="shop"), True),
        (caller("app0", roles=frozenset({"ops"})), "system:role:add", Target(app="shop"), False),
        # the route's permission must be held (now) in the token's app
        (caller("shop", frozenset({"system:user:list"})), "system:user:edit", Target(app="shop"), False),
        # organisation actions from app0 only
        (SHOP_ADMIN, "system:dept:add", Target(org=True), False),
        (caller("app0", ALL - {"system:app:manage"}, frozenset({"ops"})), "system:dept:add", Target(org=True), True),
        # nobody grants more than they hold
        (caller("shop", frozenset({"system:role:add"})), "system:role:add", Target(app="shop", grants=ALL), False),
        (
            caller("shop", frozenset({"system:role:add", "x:y"})),
            "system:role:add",
            Target("shop", grants=frozenset({"x:y"})),
            True,
        ),
        # users: members only for app admins, every user for app0's admins
        (SHOP_ADMIN, "system:user:query", Target(app="shop", user=MEMBER), True),
        (SHOP_ADMIN, "system:user:query", Target(app="shop", user=OUTSIDER), False),
        (
            caller("app0", frozenset({"system:user:query"}), frozenset({"hr"})),
            "system:user:query",
            Target(app="app0", user=MEMBER),
            True,
        ),
        # granting a role to someone not yet in the app is how they join it
        (SHOP_ADMIN, "system:user:role", Target(app="shop", user=OUTSIDER, access=UserAccess.GRANT), True),
        # nobody changes someone more powerful, or a super admin
        (SHOP_ADMIN, "system:user:edit", Target(app="shop", user=APP0_EDITOR, access=UserAccess.CHANGE), True),
        (
            caller("shop", frozenset({"system:user:edit"})),
            "system:user:edit",
            Target(app="shop", user=person(("shop", "boss", ["system:role:add"])), access=UserAccess.CHANGE),
            False,
        ),
        (SHOP_ADMIN, "system:user:role", Target(app="shop", user=SUPER, access=UserAccess.GRANT), False),
        (
            caller("app0", ALL, frozenset({"ops"})),
            "system:user:edit",
            Target(org=True, user=SUPER, access=UserAccess.CHANGE),
            False,
        ),
        (ROOT, "system:user:edit", Target(org=True, user=SUPER, access=UserAccess.CHANGE), True),
        # a signed-in user's route (role-auth) asks about the token's app only
        (caller("shop", frozenset()), None, Target(app="shop"), True),
        (caller("shop", frozenset()), None, Target(app="app0"), False),
    ],
)
def test_the_rule(who: Caller, permission: str | None, target: Target, allowed: bool) -> None:
    assert (decide(who, permission, target) is None) is allowed


PERMS = st.frozensets(st.sampled_from([*SYSTEM_PERMISSIONS[:6], "orders:view", "orders:refund"]), max_size=8)
APPS = st.sampled_from(["app0", "shop", "crm"])


@st.composite
def records(draw: st.DrawFn) -> UserRecord:
    grants = draw(st.lists(st.tuples(APPS, st.sampled_from(["admin", "l0", "ops"]), PERMS), max_size=3))
    return person(*[(a, c, sorted(p)) for a, c, p in grants])


@given(
    app=APPS,
    roles=st.frozensets(st.sampled_from(["admin", "l0", "ops"])),
    held=PERMS,
    target_app=st.none() | APPS,
    org=st.booleans(),
    grants=PERMS,
    user=st.none() | records(),
    access=st.sampled_from(list(UserAccess)),
)
def test_whatever_is_allowed_stays_within_the_callers_rights(
    app: str,
    roles: frozenset[str],
    held: frozenset[str],
    target_app: str | None,
    org: bool,
    grants: frozenset[str],
    user: UserRecord | None,
    access: UserAccess,
) -> None:
    me = Caller("me", app, roles, held)
    target = Target(app=target_app, org=org, grants=grants, user=user, access=access)
    if decide(me, "system:user:list", target) is not None or me.is_super_admin:
        return
    # Then an allowed request by anyone but the super admin never leaves their app or their rights
    assert "system:user:list" in held
    assert target_app in (None, app)
    assert not org or app == "app0"
    assert grants <= held
    if user is not None and access is not UserAccess.READ:
        assert permissions_of(user) <= held
        assert not any((g.app_name, g.role_code) == ("app0", "admin") for g in user.grants)
    if user is not None and access is not UserAccess.GRANT and app != "app0":
        assert user.grants_in(app) or user.user.user_id == "me"


# -- the caller: token ∩ live grants --------------------------------------------------------------------


def test_the_caller_holds_only_what_both_token_and_live_grants_say(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    # Given a user whose live grants in app0 are the editor role (one permission)
    user_id = sign_up("carol").user_id
    services.role_admin.create(
        RoleBody(**{"app_name": "app0", "role_code": "editor", "permissions": ["system:user:list"]})
    )
    services.roles.assign(user_id, "app0", "editor")
    # When a (stale) token context claims more than that
    context = {"user_id": user_id, "app_name": "app0", "roles": "admin,editor,l0", "permissions": ",".join(ALL)}
    me = services.admin.caller(context)
    # Then only what both say counts
    assert me.permissions == {"system:user:list"} and me.roles == {"editor", "l0"} and not me.is_super_admin
    # And a disabled or unknown caller acts on nothing
    services.accounts.set_status(user_id, "disabled")
    with pytest.raises(PermissionDeniedError):
        services.admin.caller(context)
    with pytest.raises(PermissionDeniedError):
        services.admin.caller({**context, "user_id": "nobody"})


# -- guards inside the services -----------------------------------------------------------------------


def test_a_role_edit_racing_another_is_checked_again(services: Services) -> None:
    # Given a role, and a guard that sees each attempt's "before"
    services.role_admin.create(RoleBody(**{"app_name": "app0", "role_code": "desk", "permissions": ["a:b"]}))
    seen: list[list[str]] = []

    def guard(before: Role, after: Role) -> None:
        seen.append(list(before.permissions))
        if len(seen) == 1:  # another admin adds a permission between this edit's read and its write
            concurrent = replace(before, permissions=["a:b", "secret:x"])
            services.role_admin.repository.write_role(concurrent, services.apps.defs_of("app0"), 0, expected=before)
        if "secret:x" in before.permissions:
            raise PermissionDeniedError()

    # When the edit is made, Then it is checked against the concurrent edit and refused
    with pytest.raises(PermissionDeniedError):
        services.role_admin.update("app0:desk", RoleBody(**{"permissions": ["a:b", "c:d"]}), guard=guard)
    assert seen == [["a:b"], ["a:b", "secret:x"]]
    assert services.role_admin.get("app0:desk").permissions == ["a:b", "secret:x"]


def test_default_roles_never_hold_admin_permissions(services: Services, sign_up: Callable[..., SignedIn]) -> None:
    create_app("shop")
    services.role_admin.create(
        RoleBody(**{"app_name": "shop", "role_code": "boss", "permissions": ["system:user:list"]})
    )
    with pytest.raises(ValidationError) as refused:
        services.apps.update("shop", AppBody(**{"default_role": "boss"}))
    assert "default_role" in (refused.value.errors or {})
    # a default role that does not exist yet cannot be created as an admin role either
    services.apps.update("shop", AppBody(**{"default_role": "member"}))
    with pytest.raises(ValidationError):
        services.role_admin.create(
            RoleBody(**{"app_name": "shop", "role_code": "member", "permissions": ["system:role:add"]})
        )
    services.role_admin.create(RoleBody(**{"app_name": "shop", "role_code": "member", "permissions": ["orders:view"]}))
    with pytest.raises(ValidationError):
        services.role_admin.update("shop:member", RoleBody(**{"permissions": ["orders:view", "system:role:add"]}))
    # And should the data say otherwise (written by other means), signing up fails closed: no admin made
    member = services.role_admin.get("shop:member")
    forced = replace(member, permissions=["orders:view", "system:user:list"])
    services.role_admin.repository.write_role(forced, services.apps.defs_of("shop"), 0, expected=member)
    with pytest.raises(ConfigurationError):
        sign_up("dora", app_name="shop")
    assert services.users.find_user_id(["UNAME#dora"]) is None


# -- local mode ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "local"),
    [
        ({"LOCAL_MODE": "1"}, True),
        ({}, False),
        ({"LOCAL_MODE": "true"}, False),
        ({"LOCAL_MODE": "1", "AWS_LAMBDA_FUNCTION_NAME": "user-center-dev-Wechat"}, False),
        ({"LOCAL_MODE": "1", "STAGE": "prod"}, True),
    ],
)
def test_local_mode_comes_from_the_local_server_never_from_lambda(env: dict[str, str], local: bool) -> None:
    assert Settings.from_env(env).local_mode is local
