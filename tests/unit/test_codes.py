"""Verification codes (API.md section 6) and the flows they prove (phone sign-in, change, reset)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import (
    CodeExpiredError,
    CodeInvalidError,
    PhoneTakenError,
    RateLimitedError,
    TokenRevokedError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from tests.fakes.clock import FakeClock
from tests.unit.helpers import FakeSender, user_info_of, user_view

PHONE = "13800138000"
E164 = "+8613800138000"


def send(
    svc: Services, senders: dict[str, FakeSender], code_type: str = "login", target: str = PHONE, ip: str = "1.2.3.4"
) -> str:
    channel = "email" if "@" in target else "sms"
    svc.codes.send(channel, target, code_type, ip)
    return senders[channel].last()


def test_send_stores_only_a_salted_hash_and_answers_the_contract(svc: Services, senders, scan_table) -> None:
    answer = svc.codes.send("sms", PHONE, "login", "1.2.3.4")
    assert answer == {"phone": E164, "code_type": "login", "expires_in": 300, "resend_after": 60}
    code = senders["sms"].last()
    assert len(code) == 6 and code.isdigit()
    items = [i for i in scan_table() if str(i["PK"]).startswith("CODE#")]
    assert [i["PK"] for i in items] == [f"CODE#login#{E164}"]
    assert code not in json.dumps(items, default=str)


def test_a_code_is_single_use_and_bound_to_type_and_target(svc: Services, senders) -> None:
    code = send(svc, senders, "login")
    with pytest.raises(CodeInvalidError):
        svc.codes.verify("sms", PHONE, "reset_password", code)
    with pytest.raises(CodeInvalidError):
        svc.codes.verify("sms", "13900139000", "login", code)
    assert svc.codes.verify("sms", E164, "login", code) == E164
    with pytest.raises(CodeInvalidError):
        svc.codes.verify("sms", PHONE, "login", code)


def test_five_wrong_tries_burn_the_code(svc: Services, senders) -> None:
    code = send(svc, senders)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(CodeInvalidError):
            svc.codes.verify("sms", PHONE, "login", wrong)
    with pytest.raises(CodeInvalidError):
        svc.codes.verify("sms", PHONE, "login", code)


def test_expired_codes_are_refused_even_before_ttl_deletion(svc: Services, senders, clock: FakeClock) -> None:
    code = send(svc, senders)
    clock.advance(301)
    with pytest.raises(CodeExpiredError):
        svc.codes.verify("sms", PHONE, "login", code)


def test_resend_cooldown_then_a_new_code_replaces_the_old(svc: Services, senders, clock: FakeClock) -> None:
    first = send(svc, senders)
    clock.advance(30)
    with pytest.raises(RateLimitedError) as cooled:
        send(svc, senders)
    assert cooled.value.data == {"retry_after": 30}
    clock.advance(30)
    second = send(svc, senders)
    if second != first:
        with pytest.raises(CodeInvalidError):
            svc.codes.verify("sms", PHONE, "login", first)
    assert svc.codes.verify("sms", PHONE, "login", second) == E164


def test_daily_target_and_hourly_ip_limits(make_services, senders, clock: FakeClock) -> None:
    svc = make_services(senders=senders, code_target_daily_limit=3, code_ip_hourly_limit=4)
    clock.now = int(clock.now) // 86400 * 86400 + 5 * 3600  # 05:00 UTC: no hour or day boundary is crossed below
    for _ in range(3):
        send(svc, senders)
        clock.advance(61)
    with pytest.raises(RateLimitedError) as daily:
        send(svc, senders)
    assert 0 < daily.value.data["retry_after"] <= 86400
    send(svc, senders, target="13900139000")  # 4th from this IP, other target
    clock.advance(61)
    with pytest.raises(RateLimitedError):
        send(svc, senders, target="13700137000")
    send(svc, senders, target="13700137000", ip="5.6.7.8")


def test_provider_outage_is_503_and_costs_nothing(svc: Services, senders, scan_table) -> None:
    senders["sms"].fail = True
    with pytest.raises(UpstreamUnavailableError):
        svc.codes.send("sms", PHONE, "login", "1.2.3.4")
    assert not [i for i in scan_table() if str(i["PK"]).startswith("CODE#")]
    assert all(int(i.get("hits", 0)) == 0 for i in scan_table() if str(i["PK"]).startswith("RATE#"))
    senders["sms"].fail = False
    send(svc, senders)  # no cooldown was consumed


def test_two_concurrent_uses_of_one_code_exactly_one_wins(svc: Services, senders) -> None:
    code = send(svc, senders)
    barrier = threading.Barrier(10)

    def use(_: int) -> bool:
        barrier.wait()
        try:
            svc.codes.verify("sms", PHONE, "login", code)
            return True
        except CodeInvalidError:
            return False

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(use, range(10)))
    assert results.count(True) == 1


def test_bad_targets_and_types_are_422(svc: Services) -> None:
    with pytest.raises(ValidationError):
        svc.codes.send("sms", "12345", "login", None)
    with pytest.raises(ValidationError):
        svc.codes.send("email", "not-an-email", "register", None)
    with pytest.raises(ValidationError):
        svc.codes.send("email", "a@example.com", "change_phone", None)  # an SMS-only type


# -- flows -----------------------------------------------------------------------------------------


def phone_login(svc: Services, senders, phone: str = PHONE, **kwargs: Any):
    code = send(svc, senders, "login", phone)
    return svc.code_flows.phone_login(phone, code, None, ClientInfo(), **kwargs)


def test_phone_login_registers_then_signs_in(svc: Services, senders, clock: FakeClock) -> None:
    inviter = svc.accounts.register(RegisterCommand(username="boss", password="secret123"), ClientInfo())
    first = phone_login(svc, senders, referer_id=inviter.user_id)
    assert first.created is True and user_info_of(first)["phone"] == E164
    assert user_info_of(first)["nickname"] == "138****8000" and user_info_of(first)["roles"][0]["role_code"] == "l0"
    assert [a["provider"] for a in user_info_of(first)["accounts"]] == ["phone"]
    clock.advance(61)
    again = phone_login(svc, senders)
    assert again.created is False and again.user_id == first.user_id
    invited = svc.code_flows.invitees(inviter.user_id)
    assert [u.user_id for u in invited] == [first.user_id]
    # and the phone also works as a password identifier once a password exists (account-center flow)
    assert svc.accounts.get(first.user_id).user.referer_id == inviter.user_id


def test_phone_login_modes_of_the_old_clients(svc: Services, senders, clock: FakeClock) -> None:
    with pytest.raises(CodeInvalidError):
        phone_login(svc, senders, mode="login")  # unknown phone
    clock.advance(61)
    phone_login(svc, senders, mode="register")
    clock.advance(61)
    with pytest.raises(PhoneTakenError):
        phone_login(svc, senders, mode="register")


def test_change_phone_needs_a_code_sent_to_the_new_phone(svc: Services, senders, clock: FakeClock) -> None:
    me = phone_login(svc, senders)
    user_id = me.user_id
    code = send(svc, senders, "change_phone", "13900139000")
    info = user_view(svc.code_flows.change_phone(user_id, "app0", "13900139000", code))
    assert info["phone"] == "+8613900139000"
    assert [a["open_id"] for a in info["accounts"] if a["provider"] == "phone"] == ["+8613900139000"]
    # the old phone is free again, the new one is taken
    clock.advance(61)
    newcomer = phone_login(svc, senders, PHONE)
    assert newcomer.created is True
    code = send(svc, senders, "change_phone", "13900139000")
    with pytest.raises(PhoneTakenError):
        svc.code_flows.change_phone(newcomer.user_id, "app0", "13900139000", code)


def test_reset_password_by_email_revokes_every_session(svc: Services, senders) -> None:
    alice = svc.accounts.register(
        RegisterCommand(username="alice", password="secret123", email="alice@example.com"), ClientInfo()
    )
    code = send(svc, senders, "reset_password", "alice@example.com")
    assert svc.code_flows.reset_password("email", "ALICE@example.com", code, "fresh-pass-1", None) == 1
    with pytest.raises(TokenRevokedError):
        svc.sessions.verify(alice.tokens.access_token)
    assert user_info_of(svc.accounts.login("alice", "fresh-pass-1", None, ClientInfo()))["username"] == "alice"
    # A login code cannot reset a password
    login_code = send(svc, senders, "login", PHONE)
    with pytest.raises(CodeInvalidError):
        svc.code_flows.reset_password("sms", PHONE, login_code, "fresh-pass-2", None)


def test_apps_that_verify_emails_need_a_register_code(svc: Services, senders) -> None:
    svc.apps.update("app0", AppBody(**{"require_email_verification": True}))
    command = RegisterCommand(username="carol", password="secret123", email="carol@example.com")
    with pytest.raises(ValidationError):
        svc.accounts.register(command, ClientInfo())
    code = send(svc, senders, "register", "carol@example.com")
    command.email_code = code
    assert user_info_of(svc.accounts.register(command, ClientInfo()))["email"] == "carol@example.com"


def test_concurrent_phone_logins_with_one_code_open_one_session(svc: Services, senders, scan_table) -> None:
    code = send(svc, senders, "login")
    barrier = threading.Barrier(8)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            return "new" if svc.code_flows.phone_login(PHONE, code, None, ClientInfo()).created else "login"
        except CodeInvalidError:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("new") == 1 and outcomes.count("refused") == 7
    items = scan_table()
    assert len([i for i in items if i["SK"] == "PROFILE"]) == 1
    assert len([i for i in items if i["SK"] == "SESSION"]) == 1
