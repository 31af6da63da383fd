"""Another team's API (examples/consumer-api) attaching the exported authorizer, served locally."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from localdev.server import LocalServer
from localdev.template import ROOT
from tests.e2e.conftest import ADMIN, local_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    template = ROOT / "examples" / "consumer-api" / "template.yaml"
    server = LocalServer(local_env(tmp_path_factory.mktemp("consumer"), LOCAL_EXTRA_TEMPLATES=str(template)))
    server.start()
    yield server
    server.stop()


def post(url: str, token: str | None = None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url, headers=headers, timeout=30, **kwargs)


def test_consumer_routes_follow_their_own_route_map(both: LocalServer) -> None:
    uc, orders = both.url, both.extra_url("consumer-api")
    # Given a plain user and the super admin of the user center
    user = post(f"{uc}/api/auth/register", json={"username": "shopper", "password": "secret123"}).json()["data"]
    admin = post(f"{uc}/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}).json()["data"]
    user_token, admin_token = user["access_token"], admin["access_token"]
    # Then both may list orders ("user"), and the backend sees who is calling
    listed = requests.get(f"{orders}/orders", headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    assert listed.status_code == 200 and listed.json()["data"]["roles"] == ["l0"]
    # And creating needs perm:order:create, which nobody has yet (not even the super admin)
    assert post(f"{orders}/orders", user_token, json={"item": "tea"}).status_code == 403
    assert post(f"{orders}/orders", admin_token, json={"item": "tea"}).status_code == 403
    # And deleting needs role:admin in the token's app
    delete = requests.delete(f"{orders}/orders/o1", headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    assert delete.status_code == 403 and delete.json()["error"] == "PERMISSION_DENIED"
    delete = requests.delete(f"{orders}/orders/o1", headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    assert delete.status_code == 200
    # And no token means 401 from the consumer's gateway too
    assert requests.get(f"{orders}/orders", timeout=30).status_code == 401


def test_logout_in_the_user_center_closes_the_consumer_api(both: LocalServer) -> None:
    uc, orders = both.url, both.extra_url("consumer-api")
    user = post(f"{uc}/api/auth/register", json={"username": "leaver", "password": "secret123"}).json()["data"]
    headers = {"Authorization": f"Bearer {user['access_token']}"}
    assert requests.get(f"{orders}/orders", headers=headers, timeout=30).status_code == 200
    assert post(f"{uc}/api/auth/logout", user["access_token"]).status_code == 200
    assert requests.get(f"{orders}/orders", headers=headers, timeout=30).status_code == 401
