"""The README's curl walkthrough, over HTTP, through the local API Gateway and the real authorizer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e


def test_newcomer_walkthrough(api, unique) -> None:
    name = unique("alice")
    # Register, log in, read user info with the token
    created = api("POST", "/api/auth/register/", json={"username": name, "password": "secret123"})
    assert created.status_code == 201, created.text
    login = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"})
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    tokens = login.json()["data"]
    info = api("GET", "/api/auth/user/info/", token=tokens["access_token"])
    assert info.status_code == 200 and info.json()["data"]["username"] == name
    # Refresh: a new pair; the old refresh token is now spent
    refreshed = api("POST", "/api/auth/token/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    fresh = refreshed.json()["data"]
    assert fresh["refresh_token"] != tokens["refresh_token"]
    # Log out and see the token refused (authorizer cache is 0 locally)
    out = api("POST", "/api/auth/logout/", token=fresh["access_token"])
    assert out.status_code == 200 and out.json()["data"] == {"revoked": 1}
    refused = api("GET", "/api/auth/user/info/", token=fresh["access_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "UNAUTHORIZED"
    again = api("POST", "/api/auth/token/refresh/", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 401


@pytest.mark.parametrize("path", ["/api/auth/user/info", "/api/auth/user/info/"])
def test_paths_work_with_and_without_trailing_slash(api, unique, path: str) -> None:
    tokens = api("POST", "/api/auth/register", json={"username": unique("u"), "password": "secret123"}).json()["data"]
    assert api("GET", path, token=tokens["access_token"]).status_code == 200


def test_gateway_answers_401_404_and_cors_preflight(api) -> None:
    missing = api("GET", "/api/auth/user/info/")
    assert missing.status_code == 401 and missing.json()["error"] == "UNAUTHORIZED"
    forged = api("GET", "/api/auth/user/info/", token="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    assert forged.status_code == 401
    unknown = api("GET", "/api/nothing/here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NOT_FOUND"
    preflight = api("OPTIONS", "/api/auth/login/", headers={"Origin": "http://localhost:5173"})
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_cors_header_on_real_responses(api) -> None:
    response = api("POST", "/api/auth/login/", json={}, headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 422 and response.headers["Access-Control-Allow-Origin"] == "*"


def test_bad_input_over_http_gets_4xx_envelopes(api) -> None:
    bad_json = api("POST", "/api/auth/login/", data="{oops", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "BAD_REQUEST"
    too_long = api("POST", "/api/auth/register/", json={"username": "longpw", "password": "x" * 73})
    assert too_long.status_code == 422 and "password" in too_long.json()["errors"]
    huge = api("POST", "/api/auth/login/", data="x" * (200 * 1024), headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["success"] is False


def test_thirty_simultaneous_signups_of_one_name_one_wins(api, unique) -> None:
    name = unique("race")

    def attempt(_: int) -> int:
        return api("POST", "/api/auth/register/", json={"username": name, "password": "secret123"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(attempt, range(30)))
    assert statuses.count(201) == 1 and statuses.count(409) == 29, statuses
    login = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"})
    assert login.status_code == 200


def test_twenty_simultaneous_refreshes_all_get_the_one_successor(api, unique) -> None:
    tokens = api("POST", "/api/auth/register/", json={"username": unique("r"), "password": "secret123"}).json()["data"]

    def attempt(_: int) -> tuple[int, str | None, str | None]:
        body = {"refresh_token": tokens["refresh_token"]}
        response = api("POST", "/api/auth/token/refresh/", json=body)
        data = response.json().get("data") or {}
        return response.status_code, data.get("refresh_token"), data.get("access_token")

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    # Every tab succeeds with the same successor (REFRESH_REUSE_LEEWAY), and every access token works
    assert [status for status, _, _ in outcomes] == [200] * 20, outcomes
    assert len({refresh for _, refresh, _ in outcomes}) == 1
    for _, _, access in outcomes[:3]:
        assert api("GET", "/api/auth/user/info/", token=access).status_code == 200


def test_sessions_list_delete_and_password_change(api, unique) -> None:
    name = unique("s")
    first = api("POST", "/api/auth/register/", json={"username": name, "password": "secret123"}).json()["data"]
    second = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"}).json()["data"]
    listed = api("GET", "/api/auth/sessions/", token=second["access_token"]).json()["data"]["items"]
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    changed = api(
        "POST",
        "/api/auth/password/change/",
        token=second["access_token"],
        json={"old_password": "secret123", "new_password": "secret456", "confirm_password": "secret456"},
    )
    assert changed.status_code == 200 and changed.json()["data"]["revoked"] == 1
    assert api("GET", "/api/auth/user/info/", token=first["access_token"]).status_code == 401
    assert api("GET", "/api/auth/user/info/", token=second["access_token"]).status_code == 200
    old = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"})
    assert old.status_code == 401
    own = listed[0]["session_id"] if not listed[0]["current"] else listed[1]["session_id"]
    gone = api("DELETE", f"/api/auth/sessions/{own}/", token=second["access_token"])
    assert gone.status_code == 404  # already revoked by the password change


def test_verify_token_for_other_services(api, unique) -> None:
    tokens = api("POST", "/api/auth/register/", json={"username": unique("v"), "password": "secret123"}).json()["data"]
    form = api("POST", "/api/auth/verify-token", data={"token": tokens["access_token"]})
    assert form.status_code == 200 and form.json()["data"]["valid"] is True
    api("POST", "/api/auth/logout/", token=tokens["access_token"])
    revoked = api("POST", "/api/auth/verify-token", json={"token": tokens["access_token"]})
    assert revoked.status_code == 401 and revoked.json()["error"] == "TOKEN_REVOKED"


def test_admin_bootstrap_gives_super_admin(api) -> None:
    from tests.e2e.conftest import ADMIN

    login = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert login.status_code == 200
    info = login.json()["data"]["user_info"]
    assert {"admin", "l0"} <= {r["role_code"] for r in info["roles"]}
    assert "system:user:list" in info["permissions"]


def test_oauth_token_endpoint_over_http(api, unique) -> None:
    name = unique("o")
    api("POST", "/api/auth/register/", json={"username": name, "password": "secret123"})
    grant = api("POST", "/api/auth/token/", data={"grant_type": "password", "username": name, "password": "secret123"})
    assert grant.status_code == 200 and set(grant.json()) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
    }
    assert grant.headers["Cache-Control"] == "no-store"


def test_jwks_is_public(api) -> None:
    jwks = api("GET", "/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["kty"] in ("EC", "RSA")


def test_role_route_is_enforced_by_the_authorizer(api, unique) -> None:
    from tests.e2e.conftest import ADMIN

    user = api("POST", "/api/auth/register/", json={"username": unique("plain"), "password": "secret123"}).json()
    denied = api("GET", "/api/roles/admin-data/", token=user["data"]["access_token"])
    assert denied.status_code == 403 and denied.json()["error"] == "PERMISSION_DENIED"
    # The same token still works on the routes it may call (the policy is right for all routes)
    assert api("GET", "/api/auth/user/info/", token=user["data"]["access_token"]).status_code == 200
    admin = api("POST", "/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
    allowed = api("GET", "/api/roles/admin-data", token=admin["access_token"])
    assert allowed.status_code == 200 and allowed.json()["data"] == "This is admin data"


def test_lockout_answers_429_with_retry_after(api, unique) -> None:
    name = unique("lock")
    api("POST", "/api/auth/register/", json={"username": name, "password": "secret123"})
    for _ in range(5):
        assert api("POST", "/api/auth/login/", json={"username": name, "password": "wrong-one"}).status_code == 401
    locked = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"})
    assert locked.status_code == 429 and locked.json()["error"] == "RATE_LIMITED"
    assert int(locked.headers["Retry-After"]) == locked.json()["data"]["retry_after"] > 0


def test_captcha_route_gives_a_png(api) -> None:
    made = api("GET", "/api/auth/captcha/")
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    data = made.json()["data"]
    assert data["captcha_key"] and data["image"].startswith("data:image/png;base64,")
