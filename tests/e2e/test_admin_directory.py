"""Admin routes for the user directory and departments (API.md section 4, group admin), over HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_token(api) -> str:
    return str(
        api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"][
            "access_token"
        ]
    )


def test_create_list_page_and_delete_users(api, unique, admin_token) -> None:
    prefix = unique("dir")
    made = [
        api(
            "POST",
            "/api/users/create/",
            token=admin_token,
            json={"username": f"{prefix}{i}", "real_name": f"{prefix}名{i}", "password": "secret123"},
        )
        for i in range(3)
    ]
    assert [m.status_code for m in made] == [201, 201, 201]
    assert made[0].json()["data"]["roles"][0]["role_code"] == "l0" and "secret123" not in made[0].text
    duplicate = api("POST", "/api/users/create/", token=admin_token, json={"username": f"{prefix}0".upper()})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "USERNAME_TAKEN"
    # Filters: exact username (case-insensitive), real_name prefix; pages of 2 with a cursor
    exact = api("GET", "/api/users/", token=admin_token, params={"username": f"{prefix}1".upper()}).json()["data"]
    assert [u["username"] for u in exact["items"]] == [f"{prefix}1"]
    first = api("GET", "/api/users/", token=admin_token, params={"real_name": prefix, "page_size": 2}).json()["data"]
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api(
        "GET",
        "/api/users/",
        token=admin_token,
        params={"real_name": prefix, "page_size": 2, "cursor": first["next_cursor"]},
    ).json()["data"]
    rows = first["items"] + second["items"]
    assert sorted(u["username"] for u in rows) == [f"{prefix}0", f"{prefix}1", f"{prefix}2"]
    created = [u["created_at"] for u in rows]
    assert created == sorted(created, reverse=True)  # newest first
    assert api("GET", "/api/users/", token=admin_token, params={"page_size": 101}).status_code == 422
    assert api("GET", "/api/users/", token=admin_token, params={"cursor": "not-a-cursor"}).status_code == 422
    # Delete: the user, its sessions and its claims go (the name can be registered again)
    victim = made[2].json()["data"]["user_id"]
    session = api("POST", "/api/auth/login/", json={"username": f"{prefix}2", "password": "secret123"}).json()["data"]
    assert api("DELETE", f"/api/users/{victim}/delete/", token=admin_token).status_code == 200
    assert api("GET", "/api/auth/user/info/", token=session["access_token"]).status_code == 401
    assert api("GET", f"/api/users/{victim}/", token=admin_token).status_code == 404
    again = api("POST", "/api/auth/register/", json={"username": f"{prefix}2", "password": "secret123"})
    assert again.status_code == 201


def test_departments_tree_and_in_use_rules(api, unique, admin_token) -> None:
    def dept(**fields) -> dict:
        made = api("POST", "/api/departments/create/", token=admin_token, json=fields)
        assert made.status_code == 201, made.text
        return made.json()["data"]

    root = dept(dept_name=unique("总部"), sort=1)
    tech = dept(dept_name="技术部", parent_id=root["dept_id"], leader="张三")
    dept(dept_name="市场部", parent_id=root["dept_id"], sort=-1)
    tree = api("GET", "/api/departments/tree/", token=admin_token).json()["data"]
    ours = next(n for n in tree if n["dept_id"] == root["dept_id"])
    assert [c["dept_name"] for c in ours["children"]] == ["市场部", "技术部"]
    assert api("DELETE", f"/api/departments/{root['dept_id']}/delete/", token=admin_token).status_code == 409
    member = api(
        "POST",
        "/api/users/create/",
        token=admin_token,
        json={"username": unique("m"), "department_id": tech["dept_id"]},
    )
    assert member.json()["data"]["department_id"] == tech["dept_id"]
    busy = api("DELETE", f"/api/departments/{tech['dept_id']}/delete/", token=admin_token)
    assert busy.status_code == 409 and busy.json()["error"] == "RESOURCE_IN_USE"
    listed = api("GET", "/api/users/", token=admin_token, params={"department_id": tech["dept_id"]}).json()["data"][
        "items"
    ]
    assert [u["user_id"] for u in listed] == [member.json()["data"]["user_id"]]
    moved = api(
        "PUT", f"/api/users/{member.json()['data']['user_id']}/update/", token=admin_token, json={"department_id": ""}
    )
    assert moved.status_code == 200
    assert api("DELETE", f"/api/departments/{tech['dept_id']}/delete/", token=admin_token).status_code == 200
    loop = api(
        "PUT", f"/api/departments/{root['dept_id']}/update/", token=admin_token, json={"parent_id": root["dept_id"]}
    )
    assert loop.status_code == 422
