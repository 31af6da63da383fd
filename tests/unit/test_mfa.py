"""TOTP second factors and recovery codes (API.md section 12, issue 13) through the real services."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import pyotp
import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import (
    CodeInvalidError,
    MfaAlreadyEnabledError,
    MfaCodeInvalidError,
    MfaNotEnabledError,
    MfaRequired,
    MfaSetupRequiredError,
    MfaTokenInvalidError,
    PermissionDeniedError,
    RateLimitedError,
)
from shared.schemas import AppBody
from shared.services.accounts import SignedIn
from shared.services.admin_scope import Caller
from shared.services.catalog import SYSTEM_PERMISSIONS
from shared.services.mfa import SecondStep
from shared.services.secret_box import LocalBox, SealedValueError
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD, FakeSender

CLIENT = ClientInfo(ip="198.51.100.4", user_agent="pytest")
PHONE = "13800138000"


def enrol(svc: Services, user_id: str, clock: FakeClock) -> tuple[pyotp.TOTP, list[str]]:
    """Turn TOTP on for ``user_id``: its generator and the recovery codes."""
    setup = svc.mfa.setup(user_id)
    generator = pyotp.TOTP(setup.secret)
    codes = svc.mfa.confirm(user_id, generator.at(clock()), CLIENT)
    clock.advance(30)  # the confirming step is spent: sign-ins use the next one
    return generator, codes


def challenge(call: Callable[[], Any]) -> MfaRequired:
    with pytest.raises(MfaRequired) as caught:
        call()
    return caught.value


def password_sign_in(svc: Services, username: str = "alice", app: str | None = None) -> MfaRequired:
    return challenge(lambda: svc.accounts.login(username, PASSWORD, app, CLIENT))


def test_set_up_confirm_and_the_secret_is_sealed_at_rest(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock, scan_table
) -> None:
    alice = sign_up("alice")
    setup = svc.mfa.setup(alice.user_id)
    assert setup.otpauth_uri.startswith("otpauth://totp/User%20Center:alice?secret=" + setup.secret)
    assert len(base64.b32decode(setup.secret)) == 20  # 160 bits
    generator = pyotp.TOTP(setup.secret)
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.confirm(alice.user_id, str((int(generator.at(clock())) + 1) % 1_000_000).zfill(6), CLIENT)
    codes = svc.mfa.confirm(alice.user_id, generator.at(clock()), CLIENT)
    assert len(codes) == 10 and len(set(codes)) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
    with pytest.raises(MfaAlreadyEnabledError):
        svc.mfa.setup(alice.user_id)
    # Nothing at rest holds the secret or a recovery code in clear; the user item holds them sealed/hashed.
    dump = json.dumps(scan_table(), default=str)
    assert setup.secret not in dump and not any(c in dump or c.replace("-", "") in dump for c in codes)
    item = next(i for i in scan_table() if i["PK"] == f"USER#{alice.user_id}" and i["SK"] == "PROFILE")
    assert item["totp_secret"].startswith("aes:") and len(item["recovery_codes"]) == 10
    assert any(i.get("action") == "mfa_enabled" for i in scan_table())


def test_confirm_without_a_set_up_or_after_it_expired(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    with pytest.raises(MfaSetupRequiredError):
        svc.mfa.confirm(alice.user_id, "123456", CLIENT)
    setup = svc.mfa.setup(alice.user_id)
    clock.advance(601)
    with pytest.raises(MfaSetupRequiredError):
        svc.mfa.confirm(alice.user_id, pyotp.TOTP(setup.secret).at(clock()), CLIENT)


def test_password_sign_in_waits_for_the_code_and_each_step_is_accepted_once(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, _ = enrol(svc, alice.user_id, clock)
    sessions_before = set(svc.accounts.item(alice.user_id).sessions)
    due = password_sign_in(svc)
    assert due.methods == ["totp", "recovery_code"] and len(due.mfa_token) >= 40
    assert set(svc.accounts.item(alice.user_id).sessions) == sessions_before  # no session, no tokens yet
    code = generator.at(clock())
    step = svc.mfa.verify(due.mfa_token, code, CLIENT)
    assert step.signed_in.user_id == alice.user_id and step.recovery_codes is None
    assert step.amr == ["pwd", "otp", "mfa"]
    claims, _ = svc.sessions.verify(step.signed_in.tokens.access_token)
    assert claims.user_id == alice.user_id
    # the mfa_token is single use
    with pytest.raises(MfaTokenInvalidError):
        svc.mfa.verify(due.mfa_token, code, CLIENT)
    # the same code, within its 30 seconds, does not finish another sign-in (a replay)
    again = password_sign_in(svc)
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.verify(again.mfa_token, code, CLIENT)
    # a code of the previous step is refused too (older than the one accepted), the next one passes
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.verify(again.mfa_token, generator.at(clock() - 30), CLIENT)
    clock.advance(30)
    assert svc.mfa.verify(again.mfa_token, generator.at(clock()), CLIENT).signed_in.user_id == alice.user_id


def test_a_code_one_step_off_is_accepted_and_two_steps_off_is_not(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, _ = enrol(svc, alice.user_id, clock)
    due = password_sign_in(svc)
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.verify(due.mfa_token, generator.at(clock() + 60), CLIENT)
    assert svc.mfa.verify(due.mfa_token, generator.at(clock() + 30), CLIENT).signed_in.user_id == alice.user_id


def test_a_recovery_code_finishes_a_sign_in_once(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    _, codes = enrol(svc, alice.user_id, clock)
    due = password_sign_in(svc)
    step = svc.mfa.verify(due.mfa_token, codes[3].lower().replace("-", " "), CLIENT)  # typed loosely
    assert step.signed_in.user_id == alice.user_id
    assert len(svc.accounts.item(alice.user_id).mfa.recovery_codes) == 9
    again = password_sign_in(svc)
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.verify(again.mfa_token, codes[3], CLIENT)
    assert svc.mfa.verify(again.mfa_token, codes[4], CLIENT).signed_in.user_id == alice.user_id
    last = password_sign_in(svc)
    assert last.methods == ["totp", "recovery_code"]


def test_wrong_codes_count_toward_the_lockout_with_passwords(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, _ = enrol(svc, alice.user_id, clock)
    due = password_sign_in(svc)  # attempt 1 of 5 (the password step's, not cleared until the second step)
    wrong = str((int(generator.at(clock())) + 500_000) % 1_000_000).zfill(6)
    refusals = []
    for _ in range(6):
        try:
            svc.mfa.verify(due.mfa_token, wrong, CLIENT)
        except (MfaCodeInvalidError, RateLimitedError) as exc:
            refusals.append(type(exc).__name__)
    assert refusals == ["MfaCodeInvalidError"] * 4 + ["RateLimitedError"] * 2
    # locked: the right code and the right password are refused for the window
    with pytest.raises(RateLimitedError):
        svc.mfa.verify(due.mfa_token, generator.at(clock()), CLIENT)
    with pytest.raises(RateLimitedError):
        svc.accounts.login("alice", PASSWORD, None, CLIENT)
    clock.advance(901)
    fresh = password_sign_in(svc)
    assert svc.mfa.verify(fresh.mfa_token, generator.at(clock()), CLIENT).signed_in.user_id == alice.user_id
    assert svc.accounts.item(alice.user_id).login_fails == 0  # the full sign-in cleared the counter


def test_a_waiting_sign_in_expires_after_five_minutes(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, _ = enrol(svc, alice.user_id, clock)
    due = password_sign_in(svc)
    clock.advance(301)
    with pytest.raises(MfaTokenInvalidError):
        svc.mfa.verify(due.mfa_token, generator.at(clock()), CLIENT)
    with pytest.raises(MfaTokenInvalidError):
        svc.mfa.verify("not-a-token", generator.at(clock()), CLIENT)


def test_phone_code_sign_in_waits_too_and_its_sms_code_is_spent(
    svc: Services, sign_up: Callable[..., SignedIn], senders: dict[str, FakeSender], clock: FakeClock
) -> None:
    alice = sign_up("alice", phone=PHONE)
    generator, _ = enrol(svc, alice.user_id, clock)
    svc.codes.send("sms", PHONE, "login", "1.2.3.4")
    sms = senders["sms"].last()
    due = challenge(lambda: svc.code_flows.phone_login(PHONE, sms, None, CLIENT))
    with pytest.raises(CodeInvalidError):  # the first step used the SMS code up
        svc.code_flows.phone_login(PHONE, sms, None, CLIENT)
    step = svc.mfa.verify(due.mfa_token, generator.at(clock()), CLIENT)
    assert step.signed_in.user_id == alice.user_id and step.amr == ["sms", "otp", "mfa"]


def test_concurrent_second_steps_with_one_code_open_one_session(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, _ = enrol(svc, alice.user_id, clock)
    tokens = [password_sign_in(svc).mfa_token for _ in range(3)]
    code = generator.at(clock())
    results: list[Any] = []
    barrier = threading.Barrier(len(tokens))

    def finish(token: str) -> None:
        barrier.wait()
        try:
            results.append(svc.mfa.verify(token, code, CLIENT))
        except (MfaCodeInvalidError, RateLimitedError) as exc:
            results.append(exc)

    threads = [threading.Thread(target=finish, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(r, SecondStep) for r in results) == 1, results


@pytest.mark.parametrize(("rule", "admin_due", "member_due"), [("admins", True, False), ("all", True, True)])
def test_require_mfa_sends_covered_users_to_enrol_first(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock, rule: str, admin_due: bool, member_due: bool
) -> None:
    boss, member = sign_up("boss"), sign_up("member")
    svc.roles.assign(boss.user_id, "app0", "admin")
    svc.apps.update("app0", AppBody(require_mfa=rule))
    due = password_sign_in(svc, "boss")
    assert due.methods == ["enroll"] and admin_due
    with pytest.raises(MfaSetupRequiredError):  # a code before the secret is set up
        svc.mfa.verify(due.mfa_token, "123456", CLIENT)
    setup = svc.mfa.enroll(due.mfa_token)
    generator = pyotp.TOTP(setup.secret)
    step = svc.mfa.verify(due.mfa_token, generator.at(clock()), CLIENT)
    assert step.signed_in.user_id == boss.user_id and len(step.recovery_codes or []) == 10
    assert svc.accounts.item(boss.user_id).mfa.enabled
    # now enrolled, the next sign-in asks for a code
    assert password_sign_in(svc, "boss").methods == ["totp", "recovery_code"]
    if member_due:
        assert password_sign_in(svc, "member").methods == ["enroll"]
    else:
        assert svc.accounts.login("member", PASSWORD, None, CLIENT).user_id == member.user_id


def test_turning_it_off_and_new_recovery_codes_need_a_current_code(
    svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice = sign_up("alice")
    generator, codes = enrol(svc, alice.user_id, clock)
    with pytest.raises(MfaCodeInvalidError):
        svc.mfa.new_recovery_codes(alice.user_id, "000000" if generator.at(clock()) != "000000" else "111111", CLIENT)
    fresh = svc.mfa.new_recovery_codes(alice.user_id, generator.at(clock()), CLIENT)
    assert set(fresh).isdisjoint(codes)
    with pytest.raises(MfaCodeInvalidError):  # old codes stopped working
        svc.mfa.disable(alice.user_id, codes[0], CLIENT)
    svc.mfa.disable(alice.user_id, fresh[0], CLIENT)
    assert not svc.accounts.item(alice.user_id).mfa.enabled
    assert svc.accounts.login("alice", PASSWORD, None, CLIENT).user_id == alice.user_id
    with pytest.raises(MfaNotEnabledError):
        svc.mfa.disable(alice.user_id, generator.at(clock()), CLIENT)


def caller(user_id: str, app: str, roles: set[str], permissions: set[str]) -> Caller:
    return Caller(user_id=user_id, app_name=app, roles=frozenset(roles), permissions=frozenset(permissions))


def test_admin_reset_follows_the_admin_scope(svc: Services, sign_up: Callable[..., SignedIn], clock: FakeClock) -> None:
    alice, root = sign_up("alice"), sign_up("root")
    svc.roles.assign(root.user_id, "app0", "admin")
    enrol(svc, alice.user_id, clock)
    enrol(svc, root.user_id, clock)
    every = set(SYSTEM_PERMISSIONS)
    shop_admin = caller("shopper", "shop", {"admin"}, every)
    app0_editor = caller("editor", "app0", {"editor"}, {"system:user:edit"})
    # another app's admin: people are managed from app0
    with pytest.raises(PermissionDeniedError):
        svc.admin.reset_mfa(shop_admin, alice.user_id, CLIENT)
    # app0 without the permission
    with pytest.raises(PermissionDeniedError):
        svc.admin.reset_mfa(caller("viewer", "app0", {"viewer"}, {"system:user:query"}), alice.user_id, CLIENT)
    # nobody but the super admin resets the super admin
    with pytest.raises(PermissionDeniedError):
        svc.admin.reset_mfa(app0_editor, root.user_id, CLIENT)
    assert svc.accounts.item(root.user_id).mfa.enabled
    assert svc.admin.reset_mfa(app0_editor, alice.user_id, CLIENT) is True
    assert not svc.accounts.item(alice.user_id).mfa.enabled
    assert svc.admin.reset_mfa(app0_editor, alice.user_id, CLIENT) is False
    assert svc.accounts.login("alice", PASSWORD, None, CLIENT).user_id == alice.user_id


def test_a_sealed_secret_opens_only_for_its_user_and_key() -> None:
    box = LocalBox(b"k" * 32)
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", "user-1")
    assert box.open(sealed, "user-1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(SealedValueError):
        box.open(sealed, "user-2")
    with pytest.raises(SealedValueError):
        LocalBox(b"j" * 32).open(sealed, "user-1")
    with pytest.raises(SealedValueError):
        box.open(sealed[:-4] + "AAAA", "user-1")


def test_require_mfa_all_holds_new_users_before_their_first_session(
    svc: Services, senders: dict[str, FakeSender], clock: FakeClock, scan_table
) -> None:
    from shared.services.accounts import RegisterCommand

    svc.apps.update("app0", AppBody(require_mfa="all"))
    due = challenge(lambda: svc.accounts.register(RegisterCommand(username="newbie", password=PASSWORD), CLIENT))
    assert due.methods == ["enroll"]
    assert not any(i["PK"].startswith("SESSION#") for i in scan_table())  # created, but no session yet
    setup = svc.mfa.enroll(due.mfa_token)
    assert svc.mfa.enroll(due.mfa_token) == setup  # showing it again gives the same secret
    step = svc.mfa.verify(due.mfa_token, pyotp.TOTP(setup.secret).at(clock()), CLIENT)
    assert step.signed_in.record.user.username == "newbie" and len(step.recovery_codes or []) == 10
    # a new phone is held the same way
    svc.codes.send("sms", PHONE, "login", "1.2.3.4")
    phone_due = challenge(lambda: svc.code_flows.phone_login(PHONE, senders["sms"].last(), None, CLIENT))
    assert phone_due.methods == ["enroll"]
    assert svc.accounts.users.find_user_id([f"PHONE#+86{PHONE}"]) is not None


def test_kms_seals_for_one_user_and_is_chosen_when_a_key_is_set() -> None:
    import boto3
    from moto import mock_aws

    from shared.config import Settings
    from shared.services.secret_box import KmsBox, box_from_settings

    with mock_aws():
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        box = KmsBox(key_id, "us-east-1")
        sealed = box.seal(b"JBSWY3DPEHPK3PXP", "user-1")
        assert sealed.startswith("kms:") and box.open(sealed, "user-1") == b"JBSWY3DPEHPK3PXP"
        with pytest.raises(SealedValueError):  # the encryption context is the user: another's does not open
            box.open(sealed, "user-2")
        with pytest.raises(SealedValueError):
            box.open("aes:" + sealed[4:], "user-1")
    assert isinstance(box_from_settings(Settings(mfa_kms_key_id=key_id, mfa_key="a2trZw==")), KmsBox)
    assert isinstance(box_from_settings(Settings(mfa_key=base64.b64encode(b"k" * 32).decode())), LocalBox)
