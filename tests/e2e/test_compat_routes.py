"""The routes of the systems this service replaces (API.md section 5), over HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_svc_user_auth_clients(api, unique) -> None:
    name = unique("old")
    registered = api(
        "POST", "/api/account/normal/register/", json={"username": name, "password": "secret123", "role_name": "admin"}
    )
    assert registered.status_code == 200 and registered.json()["code"] == 200
    assert [r["role_code"] for r in registered.json()["data"]["user_info"]["roles"]] == ["l0"]
    form = api("POST", "/api/account/normal/login-form/", data={"username": name, "password": "secret123"})
    assert form.status_code == 200 and form.json()["success"] is True
    tokens = form.json()["data"]
    current = api("POST", "/api/token/get-current-user/", token=tokens["access_token"])
    assert current.status_code == 200 and current.json()["data"]["username"] == name
    checked = api("POST", "/api/token/check-token-from-body/", json={"access_token": tokens["access_token"]})
    assert checked.status_code == 200 and checked.json()["data"]["username"] == name
    assert api("POST", "/api/token/check-token-from-header/", token=tokens["access_token"]).status_code == 200
    refreshed = api("POST", "/api/token/refresh-token/", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    fresh = refreshed.json()["data"]["access_token"]
    out = api("GET", "/api/account/logout", token=fresh)
    assert out.status_code == 200 and out.json()["data"]["revoked"] == 1
    assert api("POST", "/api/token/get-current-user/", token=fresh).status_code == 401
    assert api("GET", "/api/account/logout").json()["data"]["revoked"] == 0


def test_simple_rest_clients(api, unique) -> None:
    name = unique("rest")
    email = f"{name}@example.com"
    missing = api("POST", "/api/v1/auth/register", json={"username": name, "email": email, "password": "secret123"})
    assert missing.status_code == 422 and "phone" in missing.json()["errors"]
    short = api(
        "POST",
        "/api/v1/auth/register",
        json={"username": name, "email": email, "password": "12345", "phone": "13600136000"},
    )
    assert short.status_code == 422
    phone = f"136{abs(hash(name)) % 100_000_000:08d}"
    created = api(
        "POST",
        "/api/v1/auth/register",
        json={"username": name, "email": email, "password": "secret123", "phone": phone},
    )
    assert created.status_code == 201
    user = created.json()["data"]
    assert user["username"] == name and user["id"] == user["user_id"] and "access_token" not in user
    login = api("POST", "/api/v1/auth/login", json={"username": email, "password": "secret123"})
    data = login.json()["data"]
    assert login.status_code == 200 and data["token"] and data["user"]["roles"] == ["l0"]
    assert api("GET", "/api/auth/user/info/", token=data["token"]).status_code == 200
