"""Session and credential integrity (issue 16, API.md section 7): no session outlives a change of rights,
however many sessions there are and whenever they are opened; lockout per account; proof of identifiers.

Each test first sets up what the attack needed, then shows that it no longer works.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import (
    AppError,
    InvalidCredentialsError,
    RateLimitedError,
    TokenInvalidError,
    TokenRevokedError,
    ValidationError,
)
from shared.schemas import AdminUserUpdateBody, RoleBody
from shared.services.accounts import RegisterCommand, SignedIn
from shared.services.sessions import TokenPair
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD, sessions_of, user_info_of

SignUp = Callable[..., SignedIn]
CLIENT = ClientInfo(ip="198.51.100.4", user_agent="test")


def login(services: Services, name: str, password: str = PASSWORD, app_name: str | None = None) -> SignedIn:
    return services.accounts.login(name, password, app_name, CLIENT)


def permissions(services: Services, pair: TokenPair) -> list[str]:
    """What a session grants now, as the authorizer sees it."""
    return services.sessions.verify(pair.access_token)[1].permissions


def editor(services: Services, user_id: str) -> None:
    """Give ``user_id`` an ``editor`` role of app0 holding one permission."""
    if services.role_admin.repository.get_role("app0", "editor") is None:
        services.role_admin.create(
            RoleBody(**{"app_name": "app0", "role_code": "editor", "permissions": ["orders:edit"]})
        )
    services.roles.assign(user_id, "app0", "editor")


# -- 1. sign-ins racing a change of rights ---------------------------------------------------------------


def interleave(services: Services, change: Callable[[], Any]) -> None:
    """Make ``change`` happen between a sign-in's read of the user and its write of the session."""
    original = services.users.open_session
    done = threading.Event()

    def open_session(*args: Any, **kwargs: Any) -> Any:
        if not done.is_set():
            done.set()
            change()
        return original(*args, **kwargs)

    services.users.open_session = open_session  # type: ignore[method-assign]


def test_a_sign_in_racing_a_role_removal_does_not_keep_the_role(services: Services, sign_up: SignUp):
    # Given an editor, and their role removed while a sign-in of theirs is between read and write
    user_id = sign_up("alice").user_id
    editor(services, user_id)
    interleave(services, lambda: services.roles.remove(user_id, "app0", ["editor"]))

    # When the sign-in finishes
    racing = login(services, "alice")

    # Then neither its answer nor its session holds the removed role
    assert "orders:edit" not in user_info_of(racing)["permissions"]
    assert permissions(services, racing.tokens) == []
    assert services.sessions.refresh(racing.tokens.refresh_token) and permissions(services, racing.tokens) == []


def test_a_sign_in_with_the_old_password_racing_a_change_gets_no_session(services: Services, sign_up: SignUp):
    # Given a sign-in with the current password, and the password changed before it writes its session
    alice = sign_up("alice")
    user_id = alice.user_id
    change = services.accounts.change_password
    interleave(services, lambda: change(user_id, alice.tokens.session.session_id, PASSWORD, "brand-new-1", None))

    # When the sign-in finishes, Then it is refused: the old password no longer opens anything
    with pytest.raises(InvalidCredentialsError):
        login(services, "alice")
    assert [s["session_id"] for s in sessions_of(services, user_id, None)] == [alice.tokens.session.session_id]


def test_a_sign_in_racing_a_disable_gets_no_session(services: Services, sign_up: SignUp):
    user_id = sign_up("alice").user_id
    interleave(services, lambda: services.accounts.set_status(user_id, "disabled"))
    with pytest.raises(AppError) as refused:
        login(services, "alice")
    assert refused.value.code == "USER_DISABLED"
    assert sessions_of(services, user_id, None) == []


def test_a_session_written_with_an_old_epoch_is_never_valid(services: Services, sign_up: SignUp):
    """Belt and braces: should a session be stored with the user's previous ``rev`` (a sign-in that began
    before a password reset), the authorizer, verify-token and refresh all refuse it."""
    alice = sign_up("alice")
    user_id = alice.user_id
    stale = login(services, "alice").tokens
    record = services.accounts.item(user_id)
    stale_session = services.sessions.sessions.get(stale.session.session_id)
    services.accounts.set_password(user_id, "reset-pass-1")
    # (the racing writer puts its session back after the revocation)
    from shared.db.sessions import session_item

    assert stale_session is not None and stale_session.rev == record.rev
    session_item(stale_session).save()
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(stale.access_token)
    with pytest.raises(TokenRevokedError):
        services.sessions.refresh(stale.refresh_token)


# -- 2. many sessions --------------------------------------------------------------------------------------


@pytest.fixture
def crowded(make_services: Callable[..., Services], sign_up: SignUp) -> tuple[Services, str, list[TokenPair]]:
    """A user with 150 live sessions (the cap raised to 200 for this)."""
    from shared import container

    services = make_services(max_sessions_per_user=200)
    container.override(services)
    user_id = sign_up("crowd").user_id
    editor(services, user_id)
    pairs = [login(services, "crowd").tokens for _ in range(150)]
    return services, user_id, pairs


def test_a_user_with_150_sessions_loses_a_removed_role_in_every_one(crowded):
    services, user_id, pairs = crowded
    assert all(permissions(services, p) == ["orders:edit"] for p in pairs[::30])
    # When the role is removed (one write, whatever the number of sessions)
    assert services.roles.remove(user_id, "app0", ["editor"]) == 1
    # Then no session keeps it, and refreshing one does not bring it back
    assert all(permissions(services, p) == [] for p in pairs)
    assert "orders:edit" not in permissions(services, services.sessions.refresh(pairs[0].refresh_token))


def test_a_user_with_150_sessions_loses_an_edited_permission_in_every_one(crowded):
    services, _, pairs = crowded
    services.role_admin.update("app0:editor", RoleBody(**{"permissions": ["orders:view"]}))
    assert all(permissions(services, p) == ["orders:view"] for p in pairs)
    services.role_admin.update("app0:editor", RoleBody(**{"status": "disabled"}))
    assert all(permissions(services, p) == [] for p in pairs)


def test_an_admin_setting_a_password_ends_all_150_sessions(crowded):
    services, user_id, pairs = crowded
    services.user_admin.update(user_id, "app0", AdminUserUpdateBody(**{"password": "set-by-admin-1"}))
    for pair in pairs:
        with pytest.raises(TokenRevokedError):
            services.sessions.verify(pair.access_token)
    with pytest.raises((TokenRevokedError, TokenInvalidError)):
        services.sessions.refresh(pairs[-1].refresh_token)
    assert sessions_of(services, user_id, None) == []
    assert login(services, "crowd", "set-by-admin-1").user_id == user_id


def test_signing_in_past_the_cap_ends_the_oldest_sessions(make_services, sign_up: SignUp, clock: FakeClock):
    services = make_services(max_sessions_per_user=3)
    user_id = sign_up("alice").user_id
    pairs = []
    for _ in range(4):
        clock.advance(1)
        pairs.append(login(services, "alice").tokens)
    # Then the sign-up session and the first sign-in ended; the newest three live
    live = [s["session_id"] for s in sessions_of(services, user_id, None)]
    assert live == [p.session.session_id for p in pairs[1:]]
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(pairs[0].access_token)
    assert len(services.accounts.item(user_id).sessions) == 3


def test_concurrent_sign_ins_of_one_user_all_succeed(services: Services, sign_up: SignUp):
    """Sign-ins add their own entry to the user's session map: they never conflict with each other.
    (Five at once: a sixth concurrent attempt of one account would wait for the lockout's reservations.)"""
    user_id = sign_up("alice").user_id
    with ThreadPoolExecutor(5) as pool:
        pairs = list(pool.map(lambda _: login(services, "alice").tokens, range(5)))
    assert len(sessions_of(services, user_id, None)) == 6
    assert all(services.sessions.verify(p.access_token)[0].user_id == user_id for p in pairs)


# -- 4. lockout per account ----------------------------------------------------------------------------------


class CountingHasher:
    """The real hasher, counting the password checks."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.checks = 0
        self.lock = threading.Lock()

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))

    def verify(self, password: str, hashed: str | None) -> bool:
        with self.lock:
            self.checks += 1
        return bool(self.real.verify(password, hashed))

    def upgrade(self, password: str, hashed: str) -> str | None:
        return self.real.upgrade(password, hashed)  # type: ignore[no-any-return]


@pytest.mark.parametrize("other_form", ["alice@example.com", "+8613800138000", "8613800138000", "008613800138000"])
def test_lockout_is_per_account_whichever_identifier_names_it(services: Services, sign_up: SignUp, other_form):
    sign_up("alice", email="alice@example.com", phone="13800138000")
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    with pytest.raises(RateLimitedError) as locked:
        login(services, other_form)
    assert locked.value.data and 0 < locked.value.data["retry_after"] <= services.settings.login_lock_seconds
    create_app_and_try = services.accounts.login
    with pytest.raises(RateLimitedError):
        create_app_and_try("13800138000", PASSWORD, "app0", CLIENT)


def test_sixteen_parallel_wrong_tries_check_at_most_five_passwords(services: Services, sign_up: SignUp):
    sign_up("alice")
    counting = CountingHasher(services.accounts.hasher)
    services.accounts.hasher = counting  # type: ignore[assignment]
    barrier = threading.Barrier(16)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            login(services, "alice", "wrong-password")
        except AppError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(attempt, range(16)))
    assert counting.checks <= 5
    assert codes.count("INVALID_CREDENTIALS") == counting.checks
    assert codes.count("RATE_LIMITED") == 16 - counting.checks


def test_the_lock_passes_with_its_window(services: Services, sign_up: SignUp, clock: FakeClock):
    sign_up("alice")
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    clock.advance(services.settings.login_lock_seconds + 1)
    assert user_info_of(login(services, "alice"))["username"] == "alice"
    # and a success clears the count: five more wrong tries are allowed again
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    assert user_info_of(login(services, "alice"))["username"] == "alice"


def test_unknown_names_lock_per_name_with_the_same_answers(services: Services, sign_up: SignUp):
    sign_up("alice")
    answers = []
    for name in ("ghost", "alice"):
        for _ in range(6):
            try:
                login(services, name, "wrong-password")
            except AppError as exc:
                answers.append((name, exc.status, exc.code))
    # An unknown name and a real account answer exactly alike: five 401s, then 429
    unknown = [(s, c) for n, s, c in answers if n == "ghost"]
    known = [(s, c) for n, s, c in answers if n == "alice"]
    assert unknown == known == [(401, "INVALID_CREDENTIALS")] * 5 + [(429, "RATE_LIMITED")]


# -- 5. proof of identifiers -------------------------------------------------------------------------------


def test_proving_a_phone_by_code_takes_it_from_whoever_registered_it_unproven(services: Services, sign_up: SignUp):
    # Given an attacker who registered with the victim's phone (no code needed in app0), their own password
    # and email, and a WeChat identity of theirs bound to that account
    attacker = sign_up("mallory", phone="13800138000", email="mallory@example.com")
    account_id = attacker.user_id
    services.wechat.bind(account_id, "app0", "miniapp", "mallory-wx")

    # When the victim signs in with a code sent to their phone
    services.codes.send("sms", "13800138000", "login", "203.0.113.1")
    import json
    from pathlib import Path

    code = json.loads(Path(services.settings.local_outbox).read_text().splitlines()[-1])["code"]
    victim = services.code_flows.phone_login("13800138000", code, None, CLIENT)

    # Then the victim is in, and nothing of the attacker's reaches the account any more
    assert user_info_of(victim)["phone"] == "+8613800138000" and user_info_of(victim)["email"] is None
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(attacker.tokens.access_token)
    with pytest.raises(InvalidCredentialsError):
        login(services, "mallory")
    assert services.wechat.sign_in(None, "miniapp", "mallory-wx", CLIENT).user_id != account_id
    assert services.accounts.item(account_id).user.phone_verified is True


def test_a_referer_must_name_someone(services: Services, sign_up: SignUp):
    with pytest.raises(ValidationError) as refused:
        sign_up("alice", referer_id="nobody-at-all")
    assert "referer_id" in (refused.value.errors or {})
    inviter = sign_up("bob").user_id
    assert user_info_of(sign_up("carol", referer_id=inviter))["referer_id"] == inviter


def test_an_admin_update_refused_for_one_field_changes_nothing(services: Services, sign_up: SignUp):
    alice = sign_up("alice")
    user_id = alice.user_id
    with pytest.raises(ValidationError) as refused:
        services.user_admin.update(
            user_id, "app0", AdminUserUpdateBody.model_construct(password="valid-pass-1", nickname="N", status="gone")
        )
    assert set(refused.value.errors or {}) == {"status"}
    assert services.accounts.get(user_id).user.nickname == "alice"
    assert login(services, "alice").user_id == user_id
    assert services.sessions.verify(alice.tokens.access_token)[0].user_id == user_id


def test_registering_records_identifiers_as_unproven(services: Services, sign_up: SignUp):
    user_id = sign_up("alice", phone="13800138001", email="a@example.com").user_id
    user = services.accounts.item(user_id).user
    assert (user.phone_verified, user.email_verified) == (False, False)
    registered = services.accounts.register(
        RegisterCommand(username="bob", password=PASSWORD), CLIENT
    )  # no identifiers: nothing to prove
    assert services.accounts.item(registered.user_id).user.phone_verified is False
