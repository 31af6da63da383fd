"""Admin scope over HTTP (API.md section 4, "Admin scope"), table-driven over the admin function's routes.

For every route the admin function serves (read from template.yaml, compatibility routes included):
* the super admin still does it (2xx);
* an admin of another app, holding every ``system:*`` permission there, is refused when the request
  acts in ``app0`` or on the organisation, and nothing changes;
* an admin of ``app0`` who holds a subset of the permissions (every ``system:*`` but
  ``system:app:manage``) cannot go beyond it (grant it, define it, or change someone who holds it),
  and nothing changes; where a route cannot reach beyond the caller's rights (reads), a caller without
  the route's permission is refused instead.

A route of the admin function without a row here fails :func:`test_every_admin_route_has_a_row`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from localdev.dynamo import client
from localdev.server import LocalServer
from localdev.template import read_api
from shared.services.catalog import SYSTEM_PERMISSIONS
from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.e2e

PASSWORD = "secret123"
OPS_PERMISSIONS = [p for p in SYSTEM_PERMISSIONS if p != "system:app:manage"]


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    """The cast: ``root`` (super admin), ``shop_admin`` (every system:* permission in app ``shop``),
    ``ops`` (app0, every system:* permission but system:app:manage), ``viewer`` (app0, none), and two
    plain users: ``member`` (holds a role in shop) and ``outsider`` (app0 only)."""

    call: Callable[..., requests.Response]
    endpoint: str
    table: str
    shop: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def req(self, who: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, path, token=self.tokens[who], **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A request the super admin makes to set things up; it must succeed."""
        response = self.req("root", method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def sign_up(self, app_name: str = "app0") -> tuple[str, str]:
        username = _name("sc")
        response = self.call(
            "POST", "/api/auth/register/", json={"username": username, "password": PASSWORD, "app_name": app_name}
        )
        assert response.status_code == 201, response.text
        return username, response.json()["data"]["user_info"]["user_id"]

    def login(self, username: str, app_name: str) -> str:
        body = {"username": username, "password": PASSWORD, "app_name": app_name}
        response = self.call("POST", "/api/auth/login/", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["access_token"])

    def new_user(self) -> str:
        return self.sign_up()[1]

    def new_role(self, permissions: list[str] | None = None, app_name: str = "app0") -> str:
        body = {"app_name": app_name, "role_code": _name("r"), "permissions": permissions or []}
        return str(self.ok("POST", "/api/roles/create/", json=body)["role_id"])

    def new_menu(self) -> str:
        return str(self.ok("POST", "/api/menus/create/", json={"app_name": "app0", "menu_name": _name("m")})["menu_id"])

    def new_dept(self) -> str:
        return str(self.ok("POST", "/api/departments/create/", json={"dept_name": _name("d")})["dept_id"])

    def fingerprint(self) -> list[dict[str, Any]]:
        """Every item of the local server's table: a refused request must not have written anything."""
        items: list[dict[str, Any]] = []
        for page in client(self.endpoint).get_paginator("scan").paginate(TableName=self.table):
            items.extend(page["Items"])
        return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


@pytest.fixture(scope="module")
def world(server: LocalServer, base_url: str) -> World:
    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, base_url + path, headers=headers, timeout=30, **kwargs)

    w = World(call, str(server.endpoint), server.table_name)
    root = call("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
    w.tokens["root"], w.ids["root"] = root["access_token"], root["user_info"]["user_id"]
    w.shop = _name("shop")
    w.ok("POST", "/api/apps/create/", json={"app_name": w.shop})
    # shop's admin: role "admin" of shop with every system:* permission (the attacker of the issue)
    w.ok(
        "POST", "/api/roles/create/", json={"app_name": w.shop, "role_code": "admin", "permissions": SYSTEM_PERMISSIONS}
    )
    name, w.ids["shop_admin"] = w.sign_up(w.shop)
    w.ids["shop_admin_name"] = name
    w.ok(
        "POST",
        "/api/roles/assign-role/",
        json={"user_id": w.ids["shop_admin"], "role_name": "admin", "app_name": w.shop},
    )
    w.tokens["shop_admin"] = w.login(name, w.shop)
    w.tokens["shop_admin_app0"] = w.login(name, "app0")
    # ops: app0, every system:* permission but system:app:manage
    ops_role = w.new_role(OPS_PERMISSIONS)
    w.ids["ops_name"], w.ids["ops"] = w.sign_up()
    w.ids["ops_role"] = ops_role
    w.ok("POST", "/api/users/assign-roles/", json={"user_id": w.ids["ops"], "role_ids": ["app0:l0", ops_role]})
    w.tokens["ops"] = w.login(w.ids["ops_name"], "app0")
    # viewer: app0, a role without system:* permissions
    viewer_role = w.new_role(["report:view"])
    viewer_name, w.ids["viewer"] = w.sign_up()
    w.ok("POST", "/api/users/assign-roles/", json={"user_id": w.ids["viewer"], "role_ids": ["app0:l0", viewer_role]})
    w.tokens["viewer"] = w.login(viewer_name, "app0")
    w.ids["member_name"], w.ids["member"] = w.sign_up(w.shop)
    w.ids["outsider_name"], w.ids["outsider"] = w.sign_up()
    return w


@dataclass(frozen=True)
class Call:
    """A request, prepared (its users, roles, menus created) before anything is compared."""

    method: str
    path: str
    kwargs: dict[str, Any]
    who: str | None = None  # sent with this token instead of the scenario's caller

    def send(self, w: World, who: str) -> requests.Response:
        return w.req(self.who or who, self.method, self.path, **self.kwargs)


Prepare = Callable[[World], Call]


@dataclass(frozen=True)
class Row:
    super_admin: Prepare  # sent by root: must succeed
    other_app: Prepare  # sent by shop_admin: must be refused
    beyond: Prepare | None = None  # sent by ops: must be refused; None: the route cannot reach beyond
    why_no_beyond: str = ""


def _as(path: Callable[[World], str], method: str, who: str | None = None, **body: Any) -> Prepare:
    """A request whose path depends on the world; ``json``/``params`` may be callables of the world."""

    def prepare(w: World) -> Call:
        kwargs = {k: (v(w) if callable(v) else v) for k, v in body.items()}
        return Call(method, path(w), kwargs, who)

    return prepare


def _fixed(method: str, path: str, who: str | None = None, **body: Any) -> Prepare:
    return _as(lambda w: path, method, who, **body)


READS = "a read of the caller's own app grants nothing"
ORG = "departments and new users belong to the organisation; app0's admins manage them"

ROWS: dict[str, Row] = {
    "POST /api/roles/assign-role": Row(
        _fixed("POST", "/api/roles/assign-role/", json=lambda w: {"user_id": w.new_user(), "role_name": "editor"}),
        _fixed(
            "POST",
            "/api/roles/assign-role/",
            json=lambda w: {"user_id": w.ids["shop_admin"], "role_name": "admin", "app_name": "app0"},
        ),
        _fixed(
            "POST",
            "/api/roles/assign-role/",
            json=lambda w: {"user_id": w.ids["ops"], "role_name": "admin", "app_name": "app0"},
        ),
    ),
    "POST /api/roles/role-auth": Row(
        _fixed("POST", "/api/roles/role-auth/", json={"role_name": "admin", "app_name": "app0"}),
        _fixed("POST", "/api/roles/role-auth/", json={"role_name": "l0", "app_name": "app0"}),
        _fixed("POST", "/api/roles/role-auth/", json=lambda w: {"role_name": "admin", "app_name": w.shop}),
    ),
    "POST /api/roles/remove-roles": Row(
        _fixed("POST", "/api/roles/remove-roles/", json=lambda w: {"user_id": w.new_user(), "role_names": ["l0"]}),
        _fixed(
            "POST",
            "/api/roles/remove-roles/",
            json=lambda w: {"user_id": w.ids["ops"], "role_name": w.ids["ops_role"].split(":")[1], "app_name": "app0"},
        ),
        _fixed("POST", "/api/roles/remove-roles/", json=lambda w: {"user_id": w.ids["root"], "role_names": ["admin"]}),
    ),
    "POST /api/users/assign-roles": Row(
        _fixed(
            "POST",
            "/api/users/assign-roles/",
            json=lambda w: {"user_id": w.new_user(), "role_ids": ["app0:l0", w.ids["ops_role"]]},
        ),
        _fixed(
            "POST",
            "/api/users/assign-roles/",
            json=lambda w: {"user_id": w.ids["shop_admin"], "role_ids": ["app0:admin"]},
        ),
        _fixed(
            "POST",
            "/api/users/assign-roles/",
            json=lambda w: {"user_id": w.ids["ops"], "role_codes": ["l0", "admin"], "app_name": "app0"},
        ),
    ),
    "GET /api/roles/admin-data": Row(
        _fixed("GET", "/api/roles/admin-data/"),
        _fixed("GET", "/api/roles/admin-data/", who="shop_admin_app0"),
        _fixed("GET", "/api/roles/admin-data/"),
    ),
    "GET /api/users": Row(
        _fixed("GET", "/api/users/"),
        _fixed("GET", "/api/users/", params={"app_name": "app0"}),
        why_no_beyond=READS,
    ),
    "POST /api/users/create": Row(
        _fixed("POST", "/api/users/create/", json=lambda w: {"username": _name("made")}),
        _fixed("POST", "/api/users/create/", json=lambda w: {"username": _name("made")}),
        why_no_beyond=ORG,
    ),
    "GET /api/users/{user_id}": Row(
        _as(lambda w: f"/api/users/{w.ids['outsider']}/", "GET"),
        _as(lambda w: f"/api/users/{w.ids['outsider']}/", "GET"),
        why_no_beyond=READS,
    ),
    "PUT /api/users/{user_id}/update": Row(
        _as(lambda w: f"/api/users/{w.new_user()}/update/", "PUT", json={"nickname": "n", "password": "new-pass-1"}),
        _as(lambda w: f"/api/users/{w.ids['root']}/update/", "PUT", json={"password": "taken-over-1"}),
        _as(lambda w: f"/api/users/{w.ids['root']}/update/", "PUT", json={"password": "taken-over-1"}),
    ),
    "DELETE /api/users/{user_id}/delete": Row(
        _as(lambda w: f"/api/users/{w.new_user()}/delete/", "DELETE"),
        _as(lambda w: f"/api/users/{w.ids['member']}/delete/", "DELETE"),
        _as(lambda w: f"/api/users/{w.ids['root']}/delete/", "DELETE"),
    ),
    "GET /api/users/export": Row(
        _fixed("GET", "/api/users/export/", params={"page_size": "5"}),
        _fixed("GET", "/api/users/export/", params={"page_size": "5"}),
        why_no_beyond="exporting reads every user with their password hashes: only the super admin",
    ),
    "POST /api/users/import": Row(
        _fixed(
            "POST",
            "/api/users/import/",
            json=lambda w: {"rows": [{"external_id": f"t:{_name('i')}", "username": _name("imp")}]},
        ),
        _fixed(
            "POST",
            "/api/users/import/",
            json=lambda w: {"rows": [{"external_id": f"t:{_name('i')}", "username": _name("imp")}]},
        ),
        why_no_beyond="importing creates people in every app: only the super admin",
    ),
    "POST /api/users/{user_id}/mfa/reset": Row(
        _as(lambda w: f"/api/users/{w.new_user()}/mfa/reset/", "POST", json={}),
        _as(lambda w: f"/api/users/{w.ids['member']}/mfa/reset/", "POST", json={}),
        _as(lambda w: f"/api/users/{w.ids['root']}/mfa/reset/", "POST", json={}),
    ),
    "GET /api/roles": Row(
        _fixed("GET", "/api/roles/", params=lambda w: {"app_name": w.shop}),
        _fixed("GET", "/api/roles/", params={"app_name": "app0"}),
        why_no_beyond=READS,
    ),
    "POST /api/roles/create": Row(
        _fixed(
            "POST", "/api/roles/create/", json=lambda w: {"role_code": _name("r"), "permissions": SYSTEM_PERMISSIONS}
        ),
        _fixed("POST", "/api/roles/create/", json=lambda w: {"app_name": "app0", "role_code": _name("r")}),
        _fixed(
            "POST", "/api/roles/create/", json=lambda w: {"role_code": _name("r"), "permissions": ["system:app:manage"]}
        ),
    ),
    "GET /api/roles/{role_id}": Row(
        _fixed("GET", "/api/roles/app0:admin/"),
        _fixed("GET", "/api/roles/app0:l0/"),
        why_no_beyond=READS,
    ),
    "PUT /api/roles/{role_id}/update": Row(
        _as(lambda w: f"/api/roles/{w.new_role()}/update/", "PUT", json={"permissions": ["system:app:manage"]}),
        _fixed("PUT", "/api/roles/app0:l0/update/", json={"role_name": "taken"}),
        _as(
            lambda w: f"/api/roles/{w.ids['ops_role']}/update/",
            "PUT",
            json={"permissions": [*OPS_PERMISSIONS, "system:app:manage"]},
        ),
    ),
    "DELETE /api/roles/{role_id}/delete": Row(
        _as(lambda w: f"/api/roles/{w.new_role(['system:app:manage'])}/delete/", "DELETE"),
        _as(lambda w: f"/api/roles/{w.ids['ops_role']}/delete/", "DELETE", params={"force": "true"}),
        _as(lambda w: f"/api/roles/{w.new_role(['system:app:manage'])}/delete/", "DELETE"),
    ),
    "POST /api/roles/assign-menus": Row(
        _fixed(
            "POST", "/api/roles/assign-menus/", json=lambda w: {"role_id": w.new_role(), "menu_ids": [w.new_menu()]}
        ),
        _fixed("POST", "/api/roles/assign-menus/", json={"role_id": "app0:l0", "menu_ids": []}),
        _fixed("POST", "/api/roles/assign-menus/", json={"role_id": "app0:admin", "menu_ids": []}),
    ),
    "GET /api/roles/{role_id}/menus": Row(
        _fixed("GET", "/api/roles/app0:admin/menus/"),
        _fixed("GET", "/api/roles/app0:l0/menus/"),
        why_no_beyond=READS,
    ),
    "GET /api/menus": Row(
        _fixed("GET", "/api/menus/"),
        _fixed("GET", "/api/menus/", params={"app_name": "app0"}),
        why_no_beyond=READS,
    ),
    "GET /api/menus/tree": Row(
        _fixed("GET", "/api/menus/tree/"),
        _fixed("GET", "/api/menus/tree/", params={"app_name": "app0"}),
        why_no_beyond=READS,
    ),
    "POST /api/menus/create": Row(
        _fixed("POST", "/api/menus/create/", json={"menu_name": "m"}),
        _fixed("POST", "/api/menus/create/", json={"menu_name": "m", "app_name": "app0"}),
        why_no_beyond="a menu grants nothing; the caller needs system:menu:add in the menu's app",
    ),
    "GET /api/menus/{menu_id}": Row(
        _as(lambda w: f"/api/menus/{w.new_menu()}/", "GET"),
        _as(lambda w: f"/api/menus/{w.new_menu()}/", "GET", params={"app_name": "app0"}),
        why_no_beyond=READS,
    ),
    "PUT /api/menus/{menu_id}/update": Row(
        _as(lambda w: f"/api/menus/{w.new_menu()}/update/", "PUT", json={"menu_name": "x"}),
        _as(lambda w: f"/api/menus/{w.new_menu()}/update/", "PUT", json={"menu_name": "x", "app_name": "app0"}),
        why_no_beyond="a menu grants nothing; the caller needs system:menu:edit in the menu's app",
    ),
    "DELETE /api/menus/{menu_id}/delete": Row(
        _as(lambda w: f"/api/menus/{w.new_menu()}/delete/", "DELETE"),
        _as(lambda w: f"/api/menus/{w.new_menu()}/delete/", "DELETE", params={"app_name": "app0"}),
        why_no_beyond="a menu grants nothing; the caller needs system:menu:remove in the menu's app",
    ),
    "GET /api/departments": Row(_fixed("GET", "/api/departments/"), _fixed("GET", "/api/departments/"), None, ORG),
    "GET /api/departments/tree": Row(
        _fixed("GET", "/api/departments/tree/"), _fixed("GET", "/api/departments/tree/"), None, ORG
    ),
    "POST /api/departments/create": Row(
        _fixed("POST", "/api/departments/create/", json={"dept_name": "d"}),
        _fixed("POST", "/api/departments/create/", json={"dept_name": "d"}),
        None,
        ORG,
    ),
    "GET /api/departments/{dept_id}": Row(
        _as(lambda w: f"/api/departments/{w.new_dept()}/", "GET"),
        _as(lambda w: f"/api/departments/{w.new_dept()}/", "GET"),
        None,
        ORG,
    ),
    "PUT /api/departments/{dept_id}/update": Row(
        _as(lambda w: f"/api/departments/{w.new_dept()}/update/", "PUT", json={"dept_name": "x"}),
        _as(lambda w: f"/api/departments/{w.new_dept()}/update/", "PUT", json={"dept_name": "x"}),
        None,
        ORG,
    ),
    "DELETE /api/departments/{dept_id}/delete": Row(
        _as(lambda w: f"/api/departments/{w.new_dept()}/delete/", "DELETE"),
        _as(lambda w: f"/api/departments/{w.new_dept()}/delete/", "DELETE"),
        None,
        ORG,
    ),
    "GET /api/apps": Row(
        _fixed("GET", "/api/apps/"),
        # The other app's admin is not refused here: the list holds only their own app (checked below).
        _fixed("GET", "/api/apps/"),
        why_no_beyond="only the super admin sees other apps; everyone else needs system:app:manage in theirs",
    ),
    "POST /api/apps/create": Row(
        _fixed("POST", "/api/apps/create/", json=lambda w: {"app_name": _name("app")}),
        _fixed("POST", "/api/apps/create/", json=lambda w: {"app_name": _name("app")}),
        why_no_beyond="creating an app acts outside every app: only the super admin",
    ),
    "PUT /api/apps/{app_name}/update": Row(
        _fixed("PUT", "/api/apps/app0/update/", json={"display_name": "App 0"}),
        _fixed("PUT", "/api/apps/app0/update/", json={"display_name": "taken"}),
        why_no_beyond="an app's settings grant nothing; system:app:manage in that app is needed",
    ),
}


def admin_routes() -> list[str]:
    """Every route the admin function serves, as the template declares them."""
    return sorted(f"{r.method} {r.path}" for r in read_api().routes if r.function == "AdminFunction")


def test_every_admin_route_has_a_row() -> None:
    routes = admin_routes()
    assert len(routes) >= 30
    assert sorted(ROWS) == routes, "each admin route needs a row in ROWS (its scope is then tested)"
    for route, row in ROWS.items():
        assert row.beyond is not None or row.why_no_beyond, route


def _refused(response: requests.Response) -> bool:
    return response.status_code == 403 and response.json().get("error") == "PERMISSION_DENIED"


@pytest.mark.parametrize("route", sorted(ROWS))
def test_super_admin_does_it(world: World, route: str) -> None:
    response = ROWS[route].super_admin(world).send(world, "root")
    assert response.status_code in (200, 201), (route, response.text)


@pytest.mark.parametrize("route", sorted(ROWS))
def test_admin_of_another_app_is_refused_and_nothing_changes(world: World, route: str) -> None:
    call = ROWS[route].other_app(world)
    before = world.fingerprint()
    response = call.send(world, "shop_admin")
    if route == "GET /api/apps":
        assert response.status_code == 200
        assert [a["app_name"] for a in response.json()["data"]["items"]] == [world.shop]
    else:
        assert _refused(response), (route, response.status_code, response.text)
    assert world.fingerprint() == before, route


@pytest.mark.parametrize("route", sorted(ROWS))
def test_admin_with_a_subset_cannot_go_beyond_it(world: World, route: str) -> None:
    row = ROWS[route]
    if row.beyond is not None:
        call, who = row.beyond(world), "ops"
    else:  # no way beyond the caller's rights: a caller without the route's permission is refused
        call, who = row.super_admin(world), "viewer"
    before = world.fingerprint()
    response = call.send(world, who)
    assert _refused(response), (route, response.status_code, response.text)
    assert world.fingerprint() == before, route


# -- what an app's admin may do, and the rules around it --------------------------------------------------


def test_the_issue_attack_fails_and_the_attacker_gains_nothing(world: World) -> None:
    # Given shop's admin, holding system:user:role in shop
    me = world.ids["shop_admin"]
    # When they assign themselves app0's admin role
    attempt = world.req(
        "shop_admin", "POST", "/api/roles/assign-role/", json={"user_id": me, "app_name": "app0", "role_name": "admin"}
    )
    # Then 403, and signing in to app0 again gives no permission there
    assert _refused(attempt)
    app0 = world.call(
        "POST", "/api/auth/login/", json={"username": world.ids["shop_admin_name"], "password": PASSWORD}
    ).json()["data"]
    assert app0["user_info"]["permissions"] == [] and [r["role_code"] for r in app0["user_info"]["roles"]] == ["l0"]


def test_an_app_admin_sees_only_their_apps_members(world: World) -> None:
    listed = world.req("shop_admin", "GET", "/api/users/", params={"page_size": 100})
    ids = {u["user_id"] for u in listed.json()["data"]["items"]}
    assert listed.status_code == 200
    assert {world.ids["member"], world.ids["shop_admin"]} <= ids
    assert not ids & {world.ids["outsider"], world.ids["root"], world.ids["ops"]}
    by_name = world.req("shop_admin", "GET", "/api/users/", params={"username": world.ids["outsider_name"]})
    assert by_name.status_code == 200 and by_name.json()["data"]["items"] == []
    member = world.req("shop_admin", "GET", f"/api/users/{world.ids['member']}/").json()["data"]
    assert {r["app_name"] for r in member["all_roles"]} == {world.shop}
    # app0's admins see the whole organisation
    everyone = world.req("ops", "GET", "/api/users/", params={"username": world.ids["outsider_name"]})
    assert [u["user_id"] for u in everyone.json()["data"]["items"]] == [world.ids["outsider"]]


def test_an_app_admin_manages_their_own_app(world: World) -> None:
    shop = world.shop
    # A role within the admin's own permissions, assigned to someone not yet in the app
    made = world.req(
        "shop_admin",
        "POST",
        "/api/roles/create/",
        json={"role_code": _name("clerk"), "permissions": ["system:user:list"]},
    )
    assert made.status_code == 201 and made.json()["data"]["app_name"] == shop
    newcomer = world.new_user()
    assign = world.req(
        "shop_admin",
        "POST",
        "/api/users/assign-roles/",
        json={"user_id": newcomer, "role_ids": [made.json()["data"]["role_id"]]},
    )
    assert assign.status_code == 200
    assert world.req("shop_admin", "GET", f"/api/users/{newcomer}/").status_code == 200
    # Display fields of a member: yes; the person's identifiers, password and status: app0's business
    member = f"/api/users/{world.ids['member']}/update/"
    assert world.req("shop_admin", "PUT", member, json={"nickname": "店员"}).status_code == 200
    for org_change in ({"password": "another-pass-1"}, {"status": "disabled"}, {"email": "x@example.com"}):
        assert _refused(world.req("shop_admin", "PUT", member, json=org_change)), org_change
    # Its own app's settings, menus and role grants
    assert world.req("shop_admin", "PUT", f"/api/apps/{shop}/update/", json={"display_name": "Shop"}).status_code == 200
    assert world.req("shop_admin", "POST", "/api/menus/create/", json={"menu_name": "Orders"}).status_code == 201
    removed = world.req(
        "shop_admin", "POST", "/api/roles/remove-roles/", json={"user_id": newcomer, "role_names": ["l0"]}
    )
    assert removed.status_code == 200


def test_a_partial_admin_of_an_app_cannot_reach_past_their_permissions(world: World) -> None:
    # Given a shop "helper" who may only list users and assign roles
    helper_role = world.new_role(["system:user:list", "system:user:role"], app_name=world.shop)
    name, helper = world.sign_up(world.shop)
    world.ok(
        "POST", "/api/users/assign-roles/", json={"user_id": helper, "role_ids": [f"{world.shop}:l0", helper_role]}
    )
    world.tokens["helper"] = world.login(name, world.shop)
    target = world.sign_up(world.shop)[1]
    # Then a role without permissions: yes; shop's admin role, or their own role again: no
    ok = world.req("helper", "POST", "/api/roles/assign-role/", json={"user_id": target, "role_name": "l0"})
    assert ok.status_code == 200
    body = {"user_id": target, "role_name": "admin", "app_name": world.shop}
    assert _refused(world.req("helper", "POST", "/api/roles/assign-role/", json=body))
    # Nor may they take roles from someone who holds more than they do
    strip = {"user_id": world.ids["shop_admin"], "role_names": ["admin"], "app_name": world.shop}
    assert _refused(world.req("helper", "POST", "/api/roles/remove-roles/", json=strip))


def test_a_default_role_never_holds_admin_permissions(world: World) -> None:
    app_name = _name("app")
    world.ok("POST", "/api/apps/create/", json={"app_name": app_name})
    world.ok(
        "POST",
        "/api/roles/create/",
        json={"app_name": app_name, "role_code": "boss", "permissions": ["system:user:list"]},
    )
    # An admin role cannot become the default
    refused = world.req("root", "PUT", f"/api/apps/{app_name}/update/", json={"default_role": "boss"})
    assert refused.status_code == 422 and "default_role" in refused.json()["errors"]
    assert world.req("root", "PUT", "/api/apps/app0/update/", json={"default_role": "admin"}).status_code == 422
    # The default role (made at the app's first sign-up) cannot gain one, nor be created with one
    first = world.call(
        "POST", "/api/auth/register/", json={"username": _name("su"), "password": PASSWORD, "app_name": app_name}
    )
    assert first.status_code == 201
    grow = world.req("root", "PUT", f"/api/roles/{app_name}:l0/update/", json={"permissions": ["system:user:list"]})
    assert grow.status_code == 422 and "permissions" in grow.json()["errors"]
    world.ok("PUT", f"/api/apps/{app_name}/update/", json={"default_role": "newbie"})
    born = world.req(
        "root",
        "POST",
        "/api/roles/create/",
        json={"app_name": app_name, "role_code": "newbie", "permissions": ["system:dept:list"]},
    )
    assert born.status_code == 422
    # So signing up makes nobody an admin
    signed_up = world.call(
        "POST", "/api/auth/register/", json={"username": _name("su"), "password": PASSWORD, "app_name": app_name}
    ).json()["data"]
    assert signed_up["user_info"]["permissions"] == []
    assert [r["role_code"] for r in signed_up["user_info"]["roles"]] == ["newbie"]
