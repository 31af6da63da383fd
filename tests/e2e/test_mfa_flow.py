"""Second factors and passkeys over HTTP against the local server (what `make run` serves; issue 13): the
README's curl walk-through, as a client would do it. Passkeys use a software authenticator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyotp
import requests

from tests.fakes.authenticator import SoftAuthenticator

Api = Callable[..., requests.Response]


def signed_up(api: Api, unique: Callable[[str], str]) -> tuple[str, str]:
    name = unique("mf")
    answer = api("POST", "/api/auth/register", json={"username": name, "password": "secret123"})
    assert answer.status_code == 201
    return name, str(answer.json()["data"]["access_token"])


def test_totp_sign_in_recovery_code_and_admin_reset_over_http(api: Api, unique, admin_token: str) -> None:
    name, token = signed_up(api, unique)
    setup = api("POST", "/api/auth/mfa/totp/setup/", token=token, json={}).json()["data"]
    generator = pyotp.TOTP(setup["secret"])
    # confirmed with the previous step's code (±1 step is accepted): the current one stays unused for the sign-in
    previous = generator.at(time.time() - 30)
    confirmed = api("POST", "/api/auth/mfa/totp/confirm/", token=token, json={"code": previous})
    codes = confirmed.json()["data"]["recovery_codes"]
    assert confirmed.status_code == 200 and len(codes) == 10
    # a sign-in answers mfa_required, then the code finishes it
    first = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"}).json()["data"]
    assert first["mfa_required"] is True and first["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in first
    done = api("POST", "/api/auth/mfa/verify/", json={"mfa_token": first["mfa_token"], "code": generator.now()})
    assert done.status_code == 200 and done.json()["data"]["user_info"]["username"] == name
    # a recovery code instead; then it is spent
    again = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"}).json()["data"]
    used = api("POST", "/api/auth/mfa/verify/", json={"mfa_token": again["mfa_token"], "code": codes[0]})
    assert used.status_code == 200
    third = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"}).json()["data"]
    spent = api("POST", "/api/auth/mfa/verify/", json={"mfa_token": third["mfa_token"], "code": codes[0]})
    assert spent.status_code == 400 and spent.json()["error"] == "MFA_CODE_INVALID"
    # the super admin resets it (a lost phone): the password alone signs in again
    user_id = done.json()["data"]["user_info"]["user_id"]
    reset = api("POST", f"/api/users/{user_id}/mfa/reset/", token=admin_token, json={})
    assert reset.status_code == 200 and reset.json()["data"] == {"reset": True}
    plain = api("POST", "/api/auth/login/", json={"username": name, "password": "secret123"}).json()["data"]
    assert plain["access_token"]


def test_passkey_register_and_sign_in_over_http(api: Api, unique, base_url: str) -> None:
    name, token = signed_up(api, unique)
    device = SoftAuthenticator(base_url)  # the page would be on this origin; its host is the relying party
    options = api("POST", "/api/auth/passkeys/register/options/", token=token, json={}).json()["data"]
    made: dict[str, Any] = {"credential": device.create(options["publicKey"]), "name": "e2e"}
    added = api("POST", "/api/auth/passkeys/register/verify/", token=token, json=made)
    assert added.status_code == 201 and added.json()["data"]["passkey_id"] == device.passkey_id
    login = api("POST", "/api/auth/passkeys/login/options/", json={}).json()["data"]
    answer = {"challenge_id": login["challenge_id"], "credential": device.get(login["publicKey"])}
    signed = api("POST", "/api/auth/passkeys/login/verify/", json=answer)
    assert signed.status_code == 200 and signed.json()["data"]["user_info"]["username"] == name
    replay = api("POST", "/api/auth/passkeys/login/verify/", json=answer)
    assert replay.status_code == 400 and replay.json()["error"] == "PASSKEY_CHALLENGE_INVALID"
    listed = api("GET", "/api/auth/passkeys/", token=token).json()["data"]["items"]
    assert [p["name"] for p in listed] == ["e2e"]
