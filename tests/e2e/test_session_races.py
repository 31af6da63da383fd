"""Sign-ins racing a change of rights, over HTTP against the local server (issue 16, finding 1).

Four clients sign in in a loop while the change is made; afterwards every session opened before, during
or after it (and every token a refresh gives them) has the new rights only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.e2e
PASSWORD = "secret123"


@pytest.fixture
def root(api) -> str:
    return str(
        api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"][
            "access_token"
        ]
    )


def race(api, username: str, password: str, change: Callable[[], Any]) -> list[dict[str, Any]]:
    """Four clients sign in with ``password`` in a loop while ``change`` runs; their token pairs."""
    pairs: list[dict[str, Any]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        while not stop.is_set():
            response = api("POST", "/api/auth/login/", json={"username": username, "password": password})
            if response.status_code == 200:
                with lock:
                    pairs.append(response.json()["data"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.4)
    change()
    time.sleep(0.4)
    stop.set()
    for thread in threads:
        thread.join()
    assert pairs, "no sign-in succeeded during the race"
    return pairs


def refreshed(api, pair: dict[str, Any]) -> requests.Response:
    return api("POST", "/api/auth/token/refresh/", json={"refresh_token": pair["refresh_token"]})


def test_sign_ins_racing_a_role_removal_keep_nothing_of_it(api, unique, root) -> None:
    # Given a user holding a role that lists departments (system:dept:list)
    name = unique("race")
    user_id = api("POST", "/api/auth/register/", json={"username": name, "password": PASSWORD}).json()["data"][
        "user_info"
    ]["user_id"]
    code = f"lister{uuid.uuid4().hex[:6]}"
    api("POST", "/api/roles/create/", token=root, json={"role_code": code, "permissions": ["system:dept:list"]})
    api("POST", "/api/roles/assign-role/", token=root, json={"user_id": user_id, "role_name": code})

    # When it is removed while four clients keep signing in
    def remove() -> None:
        removed = api("POST", "/api/roles/remove-roles/", token=root, json={"user_id": user_id, "role_names": [code]})
        assert removed.status_code == 200

    pairs = race(api, name, PASSWORD, remove)

    # Then no session lists departments any more, and refreshing gives nothing back
    statuses = {api("GET", "/api/departments/", token=p["access_token"]).status_code for p in pairs}
    assert statuses == {403}, statuses
    again = refreshed(api, pairs[0])
    assert again.status_code == 200
    assert api("GET", "/api/departments/", token=again.json()["data"]["access_token"]).status_code == 403


def test_sign_ins_racing_a_password_change_are_all_ended(api, unique) -> None:
    name = unique("racepw")
    first = api("POST", "/api/auth/register/", json={"username": name, "password": PASSWORD}).json()["data"]

    def change() -> None:
        body = {"old_password": PASSWORD, "new_password": "changed-456"}
        assert api("POST", "/api/auth/password/change/", token=first["access_token"], json=body).status_code == 200

    pairs = race(api, name, PASSWORD, change)
    # Every session opened with the old password is over; only the one that changed it lives on
    assert {api("GET", "/api/auth/user/info/", token=p["access_token"]).status_code for p in pairs} == {401}
    assert {refreshed(api, p).status_code for p in pairs[-3:]} == {401}
    assert api("GET", "/api/auth/user/info/", token=first["access_token"]).status_code == 200


def test_sign_ins_racing_a_disable_are_all_ended(api, unique, root) -> None:
    name = unique("raceoff")
    user_id = api("POST", "/api/auth/register/", json={"username": name, "password": PASSWORD}).json()["data"][
        "user_info"
    ]["user_id"]

    def disable() -> None:
        body = {"status": "disabled"}
        assert api("PUT", f"/api/users/{user_id}/update/", token=root, json=body).status_code == 200

    pairs = race(api, name, PASSWORD, disable)
    assert {api("GET", "/api/auth/user/info/", token=p["access_token"]).status_code for p in pairs} == {401}
    assert {refreshed(api, p).status_code for p in pairs[-3:]} == {401}


def test_an_admin_setting_a_password_ends_the_users_sessions(api, unique, root) -> None:
    name = unique("adminpw")
    signed_up = api("POST", "/api/auth/register/", json={"username": name, "password": PASSWORD}).json()["data"]
    user_id = signed_up["user_info"]["user_id"]
    body = {"password": "set-by-admin-1"}
    assert api("PUT", f"/api/users/{user_id}/update/", token=root, json=body).status_code == 200
    assert api("GET", "/api/auth/user/info/", token=signed_up["access_token"]).status_code == 401
    assert refreshed(api, signed_up).status_code == 401
    login = api("POST", "/api/auth/login/", json={"username": name, "password": "set-by-admin-1"})
    assert login.status_code == 200
