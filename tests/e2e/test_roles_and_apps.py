"""Roles, apps and the authorizer over HTTP: grants and revocation reach the gateway at once (cache 0),
and nothing of one app grants anything in another."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_token(api) -> str:
    login = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert login.status_code == 200
    return str(login.json()["data"]["access_token"])


def sign_up(api, name: str, app_name: str | None = None) -> dict:
    body = {"username": name, "password": "secret123", **({"app_name": app_name} if app_name else {})}
    response = api("POST", "/api/auth/register/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_granted_role_opens_a_route_and_removal_closes_it_for_the_same_token(api, unique, admin_token) -> None:
    # Given a plain user with a token
    user = sign_up(api, unique("g"))
    user_id, token = user["user_info"]["user_id"], user["access_token"]
    assert api("GET", "/api/roles/admin-data/", token=token).status_code == 403
    # When an admin gives them the admin role
    granted = api("POST", "/api/roles/assign-role/", token=admin_token, json={"user_id": user_id, "role_name": "admin"})
    assert granted.status_code == 200 and granted.json()["data"]["status"] is True
    # Then the same token passes at once (the session carries the new roles; cache 0 locally)
    assert api("GET", "/api/roles/admin-data/", token=token).status_code == 200
    assert api("POST", "/api/roles/role-auth/", token=token, json={"role_name": "admin"}).status_code == 200
    # When the role is removed, the same token is refused again
    removed = api(
        "POST", "/api/roles/remove-roles/", token=admin_token, json={"user_id": user_id, "role_names": ["admin"]}
    )
    assert removed.status_code == 200 and removed.json()["data"] == {"removed": 1}
    assert api("GET", "/api/roles/admin-data/", token=token).status_code == 403
    denied = api("POST", "/api/roles/role-auth/", token=token, json={"role_name": "admin"})
    assert denied.status_code == 403 and denied.json()["error"] == "PERMISSION_DENIED"


def test_only_role_managers_assign_roles(api, unique) -> None:
    user = sign_up(api, unique("self"))
    attempt = api(
        "POST",
        "/api/roles/assign-role/",
        token=user["access_token"],
        json={"user_id": user["user_info"]["user_id"], "role_name": "admin"},
    )
    assert attempt.status_code == 403
    info = api("GET", "/api/auth/user/info/", token=user["access_token"]).json()["data"]
    assert [r["role_code"] for r in info["roles"]] == ["l0"]


def test_apps_isolate_roles(api, unique, admin_token) -> None:
    # Given a second app, and a user who is admin in app0
    app_name = unique("crm")
    created = api("POST", "/api/apps/create/", token=admin_token, json={"app_name": app_name, "display_name": "CRM"})
    assert created.status_code == 201 and created.json()["data"]["default_role"] == "l0"
    user = sign_up(api, unique("iso"))
    user_id = user["user_info"]["user_id"]
    api("POST", "/api/roles/assign-role/", token=admin_token, json={"user_id": user_id, "role_name": "admin"})
    # When they sign in to the other app
    login = api(
        "POST",
        "/api/auth/login/",
        json={"username": user["user_info"]["username"], "password": "secret123", "app_name": app_name},
    )
    assert login.status_code == 200
    crm = login.json()["data"]
    # Then that token carries only that app's roles, and app0's admin role opens nothing there
    assert [r["role_code"] for r in crm["user_info"]["roles"]] == ["l0"]
    assert all(r["app_name"] == app_name for r in crm["user_info"]["roles"])
    assert api("GET", "/api/roles/admin-data/", token=crm["access_token"]).status_code == 403
    # And an admin role created in that app carries no system permission
    api(
        "POST",
        "/api/roles/assign-role/",
        token=admin_token,
        json={"user_id": user_id, "role_name": "admin", "app_name": app_name},
    )
    assert api("GET", "/api/roles/admin-data/", token=crm["access_token"]).status_code == 200
    assert api("GET", "/api/apps/", token=crm["access_token"]).status_code == 403


def test_assign_roles_replaces_the_roles_of_one_app(api, unique, admin_token) -> None:
    user = sign_up(api, unique("rep"))
    user_id = user["user_info"]["user_id"]
    api("POST", "/api/roles/assign-role/", token=admin_token, json={"user_id": user_id, "role_name": "editor"})
    replaced = api(
        "POST", "/api/users/assign-roles/", token=admin_token, json={"user_id": user_id, "role_ids": ["app0:editor"]}
    )
    assert replaced.status_code == 200
    assert [r["role_code"] for r in replaced.json()["data"]["roles"]] == ["editor"]
    info = api("GET", "/api/auth/user/info/", token=user["access_token"]).json()["data"]
    assert [r["role_code"] for r in info["roles"]] == ["editor"]
    missing = api(
        "POST", "/api/users/assign-roles/", token=admin_token, json={"user_id": user_id, "role_ids": ["app0:nope"]}
    )
    assert missing.status_code == 404


def test_app_settings_are_validated_and_listed(api, unique, admin_token) -> None:
    name = unique("shop")
    bad = api(
        "POST",
        "/api/apps/create/",
        token=admin_token,
        json={
            "app_name": name,
            "allowed_callback_origins": [
                "javascript:alert(1)",
                "https://a.example:99999",
                "https://[::1",
                "https://ok.example",
            ],
        },
    )
    # every bad entry is named (by its position), never a 500
    assert bad.status_code == 422, bad.text
    assert set(bad.json()["errors"]) == {f"allowed_callback_origins.{i}" for i in (0, 1, 2)}
    ok = api(
        "POST",
        "/api/apps/create/",
        token=admin_token,
        json={"app_name": name, "allowed_callback_origins": ["https://Shop.Example.com/"], "require_captcha": True},
    )
    assert ok.status_code == 201 and ok.json()["data"]["allowed_callback_origins"] == ["https://shop.example.com"]
    again = api("POST", "/api/apps/create/", token=admin_token, json={"app_name": name})
    assert again.status_code == 409
    updated = api("PUT", f"/api/apps/{name}/update/", token=admin_token, json={"default_role": "member"})
    assert updated.status_code == 200 and updated.json()["data"]["default_role"] == "member"
    listed = api("GET", "/api/apps/", token=admin_token).json()["data"]["items"]
    names = [a["app_name"] for a in listed]
    assert "app0" in names and name in names
    # New users of that app get its default role
    user = sign_up(api, unique("member"), app_name=name)
    assert [r["role_code"] for r in user["user_info"]["roles"]] == ["member"]


def test_role_definitions_and_their_permissions_reach_holders_at_once(api, unique, admin_token) -> None:
    # Given a new role that lets its holders read users, given to a plain user
    code = unique("reader")
    created = api(
        "POST",
        "/api/roles/create/",
        token=admin_token,
        json={"role_code": code, "role_name": "读者", "permissions": ["system:user:query"]},
    )
    assert created.status_code == 201 and created.json()["data"]["role_id"] == f"app0:{code}"
    again = api("POST", "/api/roles/create/", token=admin_token, json={"role_code": code})
    assert again.status_code == 409 and again.json()["error"] == "ROLE_EXISTS"
    user = sign_up(api, unique("holder"))
    user_id, token = user["user_info"]["user_id"], user["access_token"]
    assert api("GET", f"/api/users/{user_id}/", token=token).status_code == 403
    api("POST", "/api/roles/assign-role/", token=admin_token, json={"user_id": user_id, "role_name": code})
    seen = api("GET", f"/api/users/{user_id}/", token=token)
    assert seen.status_code == 200 and code in [r["role_code"] for r in seen.json()["data"]["roles"]]
    # When the role loses that permission, the same token loses the route
    updated = api("PUT", f"/api/roles/app0:{code}/update/", token=admin_token, json={"permissions": []})
    assert updated.status_code == 200 and updated.json()["data"]["permissions"] == []
    assert api("GET", f"/api/users/{user_id}/", token=token).status_code == 403
    # And a role in use is only deleted with force, which takes it from its holders
    refused = api("DELETE", f"/api/roles/app0:{code}/delete/", token=admin_token)
    assert refused.status_code == 409 and refused.json()["error"] == "ROLE_IN_USE"
    forced = api("DELETE", f"/api/roles/app0:{code}/delete/?force=true", token=admin_token)
    assert forced.status_code == 200 and forced.json()["data"]["was_in_use"] is True
    info = api("GET", "/api/auth/user/info/", token=token).json()["data"]
    assert [r["role_code"] for r in info["roles"]] == ["l0"]
    assert api("GET", f"/api/roles/app0:{code}/", token=admin_token).status_code == 404


def test_role_listing_menus_and_the_super_admin_guard(api, unique, admin_token) -> None:
    code = unique("lister")
    api("POST", "/api/roles/create/", token=admin_token, json={"role_code": code, "menu_ids": ["m1"]})
    listed = api("GET", "/api/roles/", token=admin_token, params={"role_code": code, "page_size": 5}).json()["data"]
    assert listed["total"] == 1 and listed["items"][0]["role_code"] == code and listed["page_size"] == 5
    assert api("GET", "/api/roles/", token=admin_token, params={"page_size": 101}).status_code == 422
    menus = api(
        "POST", "/api/roles/assign-menus/", token=admin_token, json={"role_id": f"app0:{code}", "menu_ids": ["m2", 3]}
    )
    assert menus.status_code == 200
    assert api("GET", f"/api/roles/app0:{code}/menus/", token=admin_token).json()["data"]["menu_ids"] == ["m2", "3"]
    guard = api("PUT", "/api/roles/app0:admin/update/", token=admin_token, json={"permissions": ["system:user:list"]})
    assert guard.status_code == 422
    assert api("DELETE", "/api/roles/app0:admin/delete/?force=true", token=admin_token).status_code == 422
    assert api("GET", "/api/roles/admin-data/", token=admin_token).json()["data"] == "This is admin data"


def test_menus_tree_and_the_menus_a_user_gets(api, unique, admin_token) -> None:
    app_name = unique("console")
    assert api("POST", "/api/apps/create/", token=admin_token, json={"app_name": app_name}).status_code == 201

    def menu(**fields) -> dict:
        made = api("POST", "/api/menus/create/", token=admin_token, json={"app_name": app_name, **fields})
        assert made.status_code == 201, made.text
        return made.json()["data"]

    system = menu(menu_name="系统管理", menu_type=1, path="/system", sort=1, icon="ep:setting")
    users = menu(
        menu_name="用户管理",
        menu_type=2,
        path="/system/users",
        parent_id=system["menu_id"],
        permission="system:user:list",
    )
    roles = menu(menu_name="角色管理", menu_type=2, path="/system/roles", parent_id=system["menu_id"], sort=2)
    menu(menu_name="报表", menu_type=1, path="/reports", sort=2)
    tree = api("GET", "/api/menus/tree/", token=admin_token, params={"app_name": app_name}).json()["data"]
    assert [n["menu_name"] for n in tree] == ["系统管理", "报表"]
    assert [c["menu_name"] for c in tree[0]["children"]] == ["用户管理", "角色管理"] and tree[0]["icon"] == "ep:setting"
    cycle = api(
        "PUT",
        f"/api/menus/{system['menu_id']}/update/",
        token=admin_token,
        json={"app_name": app_name, "parent_id": users["menu_id"]},
    )
    assert cycle.status_code == 422
    busy = api("DELETE", f"/api/menus/{system['menu_id']}/delete/", token=admin_token, params={"app_name": app_name})
    assert busy.status_code == 409 and busy.json()["error"] == "RESOURCE_IN_USE"
    # A role in that app opens the "users" page; its holder's menu tree has the page and its parent only
    api(
        "POST",
        "/api/roles/create/",
        token=admin_token,
        json={"app_name": app_name, "role_code": "operator", "menu_ids": [users["menu_id"]]},
    )
    person = sign_up(api, unique("op"), app_name=app_name)
    api(
        "POST",
        "/api/roles/assign-role/",
        token=admin_token,
        json={"user_id": person["user_info"]["user_id"], "role_name": "operator", "app_name": app_name},
    )
    mine = api("GET", "/api/auth/user/menus/", token=person["access_token"])
    assert mine.status_code == 200
    assert [(n["menu_name"], [c["menu_name"] for c in n["children"]]) for n in mine.json()["data"]] == [
        ("系统管理", ["用户管理"])
    ]
    assert roles["menu_id"] not in str(mine.json()["data"])
    # Menus of one app are not another's: the super admin's app0 tree has none of them
    app0_tree = api("GET", "/api/auth/user/menus/", token=admin_token).json()["data"]
    assert system["menu_id"] not in str(app0_tree) and users["menu_id"] not in str(app0_tree)
