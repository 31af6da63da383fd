"""Passkeys through the real service with a software authenticator (API.md section 12, issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import (
    NotFoundError,
    PasskeyChallengeError,
    PasskeyInvalidError,
    PasskeyRegisteredError,
    UserDisabledError,
)
from shared.services.accounts import SignedIn
from shared.services.passkeys import RelyingParty
from tests.fakes.authenticator import SoftAuthenticator
from tests.fakes.clock import FakeClock
from tests.unit.helpers import set_status

ORIGIN = "http://localhost:3000"
RP = RelyingParty("localhost", "User Center", (ORIGIN,))
CLIENT = ClientInfo(ip="198.51.100.7", user_agent="pytest")


def register(services: Services, user_id: str, device: SoftAuthenticator, name: str | None = "phone") -> Any:
    options = services.passkeys.registration_options(user_id, RP)
    return services.passkeys.register(user_id, device.create(options["publicKey"]), name, RP, CLIENT)


def sign_in(services: Services, device: SoftAuthenticator, **changes: Any) -> SignedIn:
    options = services.passkeys.login_options(RP)
    answer = device.get(options["publicKey"], **changes)
    return services.passkeys.sign_in(options["challenge_id"], answer, None, RP, CLIENT)


def test_register_then_sign_in_without_a_username(
    services: Services, sign_up: Callable[..., SignedIn], scan_table
) -> None:
    alice = sign_up("alice")
    device = SoftAuthenticator(ORIGIN)
    options = services.passkeys.registration_options(alice.user_id, RP)["publicKey"]
    assert options["rp"] == {"name": "User Center", "id": "localhost"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    passkey = services.passkeys.register(alice.user_id, device.create(options), "My phone", RP, CLIENT)
    assert passkey.credential_id == device.passkey_id and passkey.name == "My phone"
    assert [p.credential_id for p in services.passkeys.list(alice.user_id)] == [device.passkey_id]
    login = services.passkeys.login_options(RP)
    assert "allowCredentials" not in login["publicKey"] and login["publicKey"]["rpId"] == "localhost"
    result = services.passkeys.sign_in(login["challenge_id"], device.get(login["publicKey"]), None, RP, CLIENT)
    assert result.user_id == alice.user_id
    assert services.sessions.verify(result.tokens.access_token)[0].user_id == alice.user_id
    stored = services.passkeys.list(alice.user_id)[0]
    assert stored.sign_count == 1 and stored.last_used_at is not None
    actions = {i.get("action") for i in scan_table()}
    assert {"passkey_added", "passkey_login"} <= actions
    # the next registration excludes the passkey the user has
    again = services.passkeys.registration_options(alice.user_id, RP)["publicKey"]
    assert [c["id"] for c in again["excludeCredentials"]] == [device.passkey_id]


def test_a_challenge_is_used_once_and_for_its_own_ceremony(
    services: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    device = SoftAuthenticator(ORIGIN)
    options = services.passkeys.registration_options(alice.user_id, RP)["publicKey"]
    made = device.create(options)
    services.passkeys.register(alice.user_id, made, None, RP, CLIENT)
    with pytest.raises(PasskeyChallengeError):  # replayed
        services.passkeys.register(alice.user_id, made, None, RP, CLIENT)
    login = services.passkeys.login_options(RP)
    services.passkeys.sign_in(login["challenge_id"], device.get(login["publicKey"]), None, RP, CLIENT)
    with pytest.raises(PasskeyChallengeError):  # the same challenge again, even with a fresh signature
        services.passkeys.sign_in(login["challenge_id"], device.get(login["publicKey"]), None, RP, CLIENT)
    late = services.passkeys.login_options(RP)
    clock.advance(301)
    with pytest.raises(PasskeyChallengeError):
        services.passkeys.sign_in(late["challenge_id"], device.get(late["publicKey"]), None, RP, CLIENT)
    # a registration challenge does not sign anyone in
    other = services.passkeys.registration_options(alice.user_id, RP)
    with pytest.raises(PasskeyChallengeError):
        services.passkeys.sign_in(other["publicKey"]["challenge"], device.get(other["publicKey"]), None, RP, CLIENT)


def test_a_cloned_authenticator_is_refused_when_its_count_goes_back(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    alice = sign_up("alice")
    device = SoftAuthenticator(ORIGIN)
    register(services, alice.user_id, device)
    sign_in(services, device)
    clone = device.clone()  # counter 1
    sign_in(services, device)
    sign_in(services, device)  # the real one is at 3
    with pytest.raises(PasskeyInvalidError):
        sign_in(services, clone)  # 2: went back
    clone.counter = 2
    with pytest.raises(PasskeyInvalidError):
        sign_in(services, clone)  # 3: not past the last
    assert sign_in(services, device).user_id == alice.user_id  # 4


def test_a_synced_passkey_without_a_counter_and_its_backup_flags(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    alice = sign_up("alice")
    device = SoftAuthenticator(ORIGIN, counts=False, synced=True)
    passkey = register(services, alice.user_id, device)
    assert passkey.backup_eligible and passkey.backed_up and passkey.sign_count == 0
    for _ in range(3):
        assert sign_in(services, device).user_id == alice.user_id


@pytest.mark.parametrize(
    ("device", "changes"),
    [
        (SoftAuthenticator(ORIGIN), {"origin": "https://evil.example.com"}),  # another site's page
        (SoftAuthenticator(ORIGIN), {"rp_id": "evil.example.com"}),  # a credential for another relying party
        (SoftAuthenticator(ORIGIN, verifies=False), {}),  # no PIN or biometric: one factor only
    ],
)
def test_signatures_for_another_origin_or_without_user_verification_are_refused(
    services: Services, sign_up: Callable[..., SignedIn], device: SoftAuthenticator, changes: dict[str, str]
) -> None:
    alice = sign_up("alice")
    honest = SoftAuthenticator(ORIGIN)
    honest.key, honest.credential_id = device.key, device.credential_id
    register(services, alice.user_id, honest)
    device.user_handle, device.rp_id, device.counter = honest.user_handle, honest.rp_id, honest.counter
    with pytest.raises(PasskeyInvalidError):
        sign_in(services, device, **changes)


def test_registration_refuses_a_credential_someone_has_and_one_without_verification(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    alice, bob = sign_up("alice"), sign_up("bob")
    device = SoftAuthenticator(ORIGIN)
    register(services, alice.user_id, device)
    with pytest.raises(PasskeyRegisteredError):
        register(services, bob.user_id, device.clone())
    with pytest.raises(PasskeyInvalidError):
        register(services, bob.user_id, SoftAuthenticator(ORIGIN, verifies=False))
    with pytest.raises(PasskeyChallengeError):  # alice's challenge is not bob's
        options = services.passkeys.registration_options(alice.user_id, RP)["publicKey"]
        services.passkeys.register(bob.user_id, SoftAuthenticator(ORIGIN).create(options), None, RP, CLIENT)


def test_malformed_answers_are_a_400_not_a_crash(services: Services, sign_up: Callable[..., SignedIn]) -> None:
    alice = sign_up("alice")
    for junk in ({}, {"response": "x"}, {"id": "!!", "rawId": "!!", "type": "public-key", "response": {}}):
        options = services.passkeys.registration_options(alice.user_id, RP)
        with pytest.raises((PasskeyInvalidError, PasskeyChallengeError)):
            services.passkeys.register(alice.user_id, junk, None, RP, CLIENT)
        login = services.passkeys.login_options(RP)
        with pytest.raises(PasskeyInvalidError):
            services.passkeys.sign_in(login["challenge_id"], junk, None, RP, CLIENT)
        assert options


def test_removing_a_passkey_and_a_disabled_user(services: Services, sign_up: Callable[..., SignedIn]) -> None:
    alice, bob = sign_up("alice"), sign_up("bob")
    device, spare = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    register(services, alice.user_id, device)
    register(services, alice.user_id, spare)
    with pytest.raises(NotFoundError):
        services.passkeys.remove(bob.user_id, device.passkey_id, CLIENT)
    services.passkeys.remove(alice.user_id, device.passkey_id, CLIENT)
    with pytest.raises(PasskeyInvalidError):
        sign_in(services, device)
    set_status(alice.user_id, "disabled")
    with pytest.raises(UserDisabledError):
        sign_in(services, spare)


def test_a_passkey_is_two_factors_so_totp_users_are_not_asked_again(
    services: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    setup = services.mfa.setup(alice.user_id)
    services.mfa.confirm(alice.user_id, pyotp.TOTP(setup.secret).at(clock()), CLIENT)
    device = SoftAuthenticator(ORIGIN)
    register(services, alice.user_id, device)
    assert sign_in(services, device).user_id == alice.user_id


def test_deleting_the_user_frees_the_credential(services: Services, sign_up: Callable[..., SignedIn]) -> None:
    alice, bob = sign_up("alice"), sign_up("bob")
    device = SoftAuthenticator(ORIGIN)
    register(services, alice.user_id, device)
    services.users.delete_user(services.accounts.get(alice.user_id))
    assert register(services, bob.user_id, device.clone()).user_id == bob.user_id
