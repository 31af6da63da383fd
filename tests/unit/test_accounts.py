"""Password accounts: sign-up, sign-in, profile and password changes (API.md sections 2, 3, 7, 9)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    PasswordMismatchError,
    PhoneTakenError,
    TokenInvalidError,
    TokenRevokedError,
    UserDisabledError,
    UsernameTakenError,
    ValidationError,
)
from shared.services.accounts import RegisterCommand, SignedIn
from shared.services.catalog import SYSTEM_PERMISSIONS
from tests.unit.helpers import (
    PASSWORD,
    bind_email_code,
    create_app,
    info_of,
    sessions_of,
    set_status,
    sign_in_data,
    user_info_of,
    user_view,
)

SignUp = Callable[..., SignedIn]
CLIENT = ClientInfo(ip="198.51.100.1", user_agent="pytest")


def login(services: Services, identifier: str, password: str = PASSWORD, app_name: str | None = None) -> SignedIn:
    return services.accounts.login(identifier, password, app_name, CLIENT)


def user_items(scan_table, user_id: str) -> list[dict]:
    return [
        item
        for item in scan_table()
        if user_id in str(item.get("PK")) or item.get("user_id") == user_id or user_id in str(item.get("GSI1PK"))
    ]


# -- sign-up --------------------------------------------------------------------------------------


def test_register_returns_tokens_and_user_info_with_the_default_role(services: Services, sign_up: SignUp):
    # When a new user signs up without naming an app
    result = sign_up("alice", email="Alice@Example.com", phone="13800138000", nickname="Al")

    # Then the answer has both tokens and the user as seen from app0
    data = sign_in_data(result)
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 3600
    assert data["access_token"] and data["refresh_token"]
    info = data["user_info"]
    assert info["username"] == "alice"
    assert info["nickname"] == "Al"
    assert info["email"] == "alice@example.com"
    assert info["phone"] == "+8613800138000"
    assert info["status"] == "active"
    assert info["roles"] == [{"role_id": "app0:l0", "role_code": "l0", "role_name": "普通用户", "app_name": "app0"}]
    assert info["permissions"] == []
    assert info["accounts"][0]["provider"] == "password"
    assert result.created is True
    # And the access token is valid, for app0, with role l0, on a stored session
    claims, session = services.sessions.verify(data["access_token"])
    assert (claims.user_id, claims.app_name, claims.roles) == (info["user_id"], "app0", ["l0"])
    assert session.user_id == info["user_id"]


def test_register_never_exposes_the_password_or_its_hash(sign_up: SignUp, scan_table):
    result = sign_up("alice")
    text = json.dumps(sign_in_data(result), ensure_ascii=False)
    assert PASSWORD not in text
    assert "$2b$" not in text
    assert "password_hash" not in text
    # while the table stores a bcrypt hash (cost 4 in tests), never the password
    profile = next(i for i in scan_table() if i["SK"] == "PROFILE")
    assert profile["password_hash"].startswith("$2b$04$")
    assert PASSWORD not in json.dumps(scan_table(), default=str)


def test_register_with_configured_default_role_in_another_app(services: Services, sign_up: SignUp, clock):
    # Given an app whose default role is "member"
    create_app("shop", default_role="member", now=clock())

    # When a user signs up there
    info = user_info_of(sign_up("buyer", app_name="shop"))

    # Then the user holds shop's default role and nothing in app0
    assert [(r["role_id"], r["app_name"]) for r in info["roles"]] == [("shop:member", "shop")]
    assert info_of(services, info["user_id"], "app0")["roles"] == []


@pytest.mark.parametrize("second", ["ALICE", "aLiCe", " alice "])
def test_usernames_are_unique_case_insensitively(sign_up: SignUp, second: str):
    # Given "Alice" is registered
    sign_up("Alice")

    # When someone registers the same name in another case
    with pytest.raises(UsernameTakenError) as caught:
        sign_up(second)

    # Then it is a 409 USERNAME_TAKEN
    assert (caught.value.status, caught.value.code) == (409, "USERNAME_TAKEN")


def test_registered_username_keeps_its_case(sign_up: SignUp):
    assert user_info_of(sign_up("MixedCase"))["username"] == "MixedCase"


def test_email_is_unique_case_insensitively(sign_up: SignUp):
    sign_up("first", email="Bob@Example.com")
    with pytest.raises(EmailTakenError) as caught:
        sign_up("second", email="bob@EXAMPLE.com")
    assert (caught.value.status, caught.value.code) == (409, "EMAIL_TAKEN")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("13800138000", "+8613800138000"),
        ("+8613800138000", "13800138000"),
        ("138-0013-8000", "008613800138000"),
    ],
)
def test_phone_in_mainland_and_e164_form_collide(sign_up: SignUp, first: str, second: str):
    sign_up("first", phone=first)
    with pytest.raises(PhoneTakenError) as caught:
        sign_up("second", phone=second)
    assert (caught.value.status, caught.value.code) == (409, "PHONE_TAKEN")


def test_phone_written_with_full_width_digits_cannot_claim_a_second_account(sign_up: SignUp):
    # Given 13800138000 is registered
    sign_up("first", phone="13800138000")

    # When someone registers the same number typed with a full-width digit (as Chinese IMEs produce)
    # Then it is either refused as invalid or recognised as the same number, never a second claim
    with pytest.raises((PhoneTakenError, ValidationError)):
        sign_up("second", phone="138００138000")


def test_failed_sign_up_claims_nothing(sign_up: SignUp):
    # Given an email in use
    sign_up("owner", email="taken@example.com")

    # When "carol" fails to register with that email
    with pytest.raises(EmailTakenError):
        sign_up("carol", email="taken@example.com", phone="13900139000")

    # Then neither the username nor the phone was claimed by the failed attempt
    assert user_info_of(sign_up("carol", phone="13900139000"))["username"] == "carol"


def test_confirm_password_mismatch(sign_up: SignUp, scan_table):
    with pytest.raises(PasswordMismatchError) as caught:
        sign_up("dave", confirm_password=PASSWORD + "x")
    assert (caught.value.status, caught.value.code) == (400, "PASSWORD_MISMATCH")
    assert not [i for i in scan_table() if str(i["PK"]).startswith(("USER#", "UNAME#"))]
    # a matching confirmation is fine
    assert user_info_of(sign_up("dave", confirm_password=PASSWORD))["username"] == "dave"


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"username": "12345"}, "username"),
        ({"username": "a@b.com"}, "username"),
        ({"username": "x"}, "username"),
        ({"username": "ok-name", "email": "not-an-email"}, "email"),
        ({"username": "ok-name", "phone": "12345"}, "phone"),
        ({"username": "ok-name", "password": "12345"}, "password"),
        ({"username": "ok-name", "password": "密" * 25}, "password"),
    ],
)
def test_register_validation_errors_name_the_field(services: Services, fields: dict, bad_field: str):
    cmd = RegisterCommand(**{"password": PASSWORD, **fields})
    with pytest.raises(ValidationError) as caught:
        services.accounts.register(cmd, CLIENT)
    assert bad_field in (caught.value.errors or {})
    assert caught.value.status == 422


def test_register_into_unknown_app_is_a_validation_error(services: Services, sign_up: SignUp, scan_table):
    # When a user signs up into an app that does not exist
    with pytest.raises(ValidationError) as caught:
        sign_up("eve", app_name="no-such-app")

    # Then the error names app_name and no user was written
    assert "app_name" in (caught.value.errors or {})
    assert not [i for i in scan_table() if str(i["PK"]).startswith(("USER#", "UNAME#", "SESSION#"))]


@pytest.mark.parametrize("app_name", ["bad app", "a/b", "x" * 65, "app#0"])
def test_register_with_malformed_app_name_is_a_validation_error(sign_up: SignUp, app_name: str):
    with pytest.raises(ValidationError) as caught:
        sign_up("eve", app_name=app_name)
    assert "app_name" in (caught.value.errors or {})


# -- sign-in --------------------------------------------------------------------------------------


@pytest.fixture
def alice(sign_up: SignUp) -> SignedIn:
    return sign_up("Alice", email="alice@example.com", phone="13800138000")


@pytest.mark.parametrize(
    "identifier",
    ["Alice", "alice", "ALICE", "alice@example.com", "Alice@Example.COM", "13800138000", "+8613800138000"],
)
def test_login_by_username_email_or_phone(services: Services, alice: SignedIn, identifier: str):
    # When Alice signs in with any of her identifiers
    result = login(services, identifier)

    # Then she gets her own user and a new session
    assert result.user_id == alice.user_id
    assert result.tokens.session.session_id != alice.tokens.session.session_id
    assert services.sessions.verify(result.tokens.access_token)[0].user_id == alice.user_id


def test_login_stamps_last_login_at_at_most_hourly(services: Services, alice: SignedIn, clock):
    # A sign-in within the hour keeps the stamp (last_login_at is in the directory index: writing it on
    # every sign-in would write the index on every sign-in)
    signed_up_at = user_info_of(alice)["last_login_at"]
    clock.advance(120)
    assert user_info_of(login(services, "alice"))["last_login_at"] == signed_up_at
    assert services.accounts.get(alice.user_id).user.last_login_at == alice.record.user.last_login_at
    # One an hour after the stamp moves it
    clock.advance(3600)
    result = login(services, "alice")
    assert user_info_of(result)["last_login_at"] != signed_up_at
    assert services.accounts.get(alice.user_id).user.last_login_at == int(clock())


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("alice", "wrong-password"),
        ("alice", ""),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
        ("13900000000", PASSWORD),
        ("", PASSWORD),
        ("alice", PASSWORD + "x" * 80),
    ],
)
def test_wrong_password_and_unknown_user_get_the_same_error(
    services: Services, alice: SignedIn, identifier: str, password: str
):
    with pytest.raises(InvalidCredentialsError) as caught:
        login(services, identifier, password)
    assert (caught.value.status, caught.value.code) == (401, "INVALID_CREDENTIALS")
    assert caught.value.message("en") == "Invalid username or password"


def test_disabled_user_with_the_right_password_is_refused(services: Services, alice: SignedIn):
    # Given Alice is disabled
    set_status(alice.user_id, "disabled")

    # When she signs in with the right password
    with pytest.raises(UserDisabledError) as caught:
        login(services, "alice")

    # Then it is 403 USER_DISABLED
    assert (caught.value.status, caught.value.code) == (403, "USER_DISABLED")


def test_disabled_user_with_a_wrong_password_learns_nothing_about_the_status(services: Services, alice: SignedIn):
    set_status(alice.user_id, "disabled")
    with pytest.raises(InvalidCredentialsError):
        login(services, "alice", "wrong-password")


def test_login_into_another_app_grants_its_default_role_there_only(services: Services, alice: SignedIn, clock):
    # Given Alice is also the super admin of app0, and an app "crm" exists
    user_id = alice.user_id
    services.roles.assign(user_id, "app0", "admin")
    create_app("crm", now=clock())

    # When she signs in to crm for the first time
    result = login(services, "alice", app_name="crm")

    # Then she holds crm's default role, and nothing of app0 shows in crm's user_info or token
    assert user_info_of(result)["roles"] == [
        {"role_id": "crm:l0", "role_code": "l0", "role_name": "普通用户", "app_name": "crm"}
    ]
    assert user_info_of(result)["permissions"] == []
    claims = services.tokens.verify_access(result.tokens.access_token)
    assert (claims.app_name, claims.roles) == ("crm", ["l0"])
    assert result.tokens.session.permissions == []
    # And app0 keeps exactly its own grants, unchanged
    app0 = user_info_of(login(services, "alice", app_name="app0"))
    assert {r["role_code"] for r in app0["roles"]} == {"admin", "l0"}
    assert set(app0["permissions"]) == set(SYSTEM_PERMISSIONS)
    # And signing in to crm again does not add a second grant
    login(services, "alice", app_name="crm")
    grants = services.accounts.get(user_id).grants
    assert sorted((g.app_name, g.role_code) for g in grants) == [("app0", "admin"), ("app0", "l0"), ("crm", "l0")]


def test_login_into_unknown_app_is_refused_and_grants_nothing(services: Services, alice: SignedIn):
    with pytest.raises(ValidationError):
        login(services, "alice", app_name="ghost")
    assert {g.app_name for g in services.accounts.get(alice.user_id).grants} == {"app0"}


# -- profile --------------------------------------------------------------------------------------


def test_update_profile_email_moves_the_claim(services: Services, sign_up: SignUp, alice: SignedIn):
    user_id = alice.user_id

    # When Alice changes her email, with the code sent to the new one
    code = bind_email_code(services, "alice.new@example.com")
    changes = {"email": "Alice.New@Example.com", "email_code": code}
    info = user_view(services.accounts.update_profile(user_id, "app0", changes))

    # Then the new email is stored lower-cased and signs her in
    assert info["email"] == "alice.new@example.com"
    assert login(services, "alice.new@example.com").user_id == user_id
    # And the old email no longer signs her in and is free for someone else
    with pytest.raises(InvalidCredentialsError):
        login(services, "alice@example.com")
    assert user_info_of(sign_up("bob", email="alice@example.com"))["email"] == "alice@example.com"
    # And the new one is taken
    with pytest.raises(EmailTakenError):
        sign_up("carol", email="alice.new@example.com")


def test_update_profile_to_an_email_of_another_user_is_409(services: Services, sign_up: SignUp, alice: SignedIn):
    # Given Bob with his own email
    bob = sign_up("bob", email="bob@example.com")
    bob_id = bob.user_id

    # When Bob tries to take Alice's email: without a code sent to it, then (somehow) with one
    with pytest.raises(ValidationError) as unproven:
        services.accounts.update_profile(bob_id, "app0", {"email": "ALICE@example.com", "nickname": "B"})
    assert "email_code" in (unproven.value.errors or {})
    code = bind_email_code(services, "alice@example.com")
    with pytest.raises(EmailTakenError) as caught:
        services.accounts.update_profile(
            bob_id, "app0", {"email": "ALICE@example.com", "nickname": "B", "email_code": code}
        )

    # Then it is a 409 and nothing changed for either of them
    assert caught.value.status == 409
    assert services.accounts.get(bob_id).user.email == "bob@example.com"
    assert services.accounts.get(bob_id).user.nickname == "bob"
    assert login(services, "bob@example.com").user_id == bob_id
    assert login(services, "alice@example.com").user_id == alice.user_id


def test_update_profile_clearing_the_email_frees_it(services: Services, sign_up: SignUp, alice: SignedIn):
    info = user_view(services.accounts.update_profile(alice.user_id, "app0", {"email": None}))
    assert info["email"] is None
    assert user_info_of(sign_up("bob", email="alice@example.com"))["email"] == "alice@example.com"


def test_update_profile_with_an_invalid_email_is_a_validation_error(services: Services, alice: SignedIn):
    with pytest.raises(ValidationError) as caught:
        services.accounts.update_profile(alice.user_id, "app0", {"email": "nope"})
    assert "email" in (caught.value.errors or {})


def test_update_profile_ignores_fields_a_user_may_not_set(services: Services, alice: SignedIn):
    # When a user sends privileged fields alongside a nickname
    user_id = alice.user_id
    info = user_view(
        services.accounts.update_profile(
            user_id,
            "app0",
            {"nickname": "Ally", "status": "disabled", "username": "root", "password_hash": "x", "user_id": "other"},
        )
    )

    # Then only the nickname changed and she still signs in with her password and username
    assert info["nickname"] == "Ally"
    assert (info["status"], info["username"], info["user_id"]) == ("active", "Alice", user_id)
    assert user_info_of(login(services, "alice"))["nickname"] == "Ally"


# -- password change ------------------------------------------------------------------------------


def test_change_password_revokes_other_sessions_and_keeps_the_current_one(services: Services, alice: SignedIn):
    # Given Alice has three sessions; she is using the first
    user_id = alice.user_id
    current = alice.tokens
    others = [login(services, "alice").tokens, login(services, "alice").tokens]

    # When she changes her password from the current session
    revoked = services.accounts.change_password(user_id, current.session.session_id, PASSWORD, "new-secret-1", None)

    # Then the two other sessions are gone and the current one still works
    assert revoked == 2
    assert services.sessions.verify(current.access_token)[1].session_id == current.session.session_id
    for pair in others:
        with pytest.raises(TokenRevokedError):
            services.sessions.verify(pair.access_token)
        with pytest.raises(TokenInvalidError):
            services.sessions.refresh(pair.refresh_token)
    assert [s["session_id"] for s in sessions_of(services, user_id, None)] == [current.session.session_id]
    # And the old password stops working while the new one works
    with pytest.raises(InvalidCredentialsError):
        login(services, "alice")
    assert login(services, "alice", "new-secret-1").user_id == user_id


def test_change_password_with_a_wrong_old_password_changes_nothing(services: Services, alice: SignedIn):
    user_id = alice.user_id
    other = login(services, "alice").tokens
    with pytest.raises(InvalidCredentialsError):
        services.accounts.change_password(user_id, alice.tokens.session.session_id, "wrong", "new-secret-1", None)
    assert services.sessions.verify(other.access_token)[0].user_id == user_id
    assert login(services, "alice").user_id == user_id


def test_change_password_confirmation_mismatch(services: Services, alice: SignedIn):
    with pytest.raises(PasswordMismatchError):
        services.accounts.change_password(
            alice.user_id, alice.tokens.session.session_id, PASSWORD, "new-secret-1", "new-secret-2"
        )
    assert user_info_of(login(services, "alice"))["username"] == "Alice"


def test_change_password_policy_names_new_password(services: Services, alice: SignedIn):
    with pytest.raises(ValidationError) as caught:
        services.accounts.change_password(alice.user_id, alice.tokens.session.session_id, PASSWORD, "密" * 25, None)
    assert list(caught.value.errors or {}) == ["new_password"]
