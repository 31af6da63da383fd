"""Code abuse (issue 16, API.md section 7): the resend cooldown is per phone number or email whatever the
code type, and SMS goes only to the allowed country calling codes."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.config import Settings
from shared.container import Services
from shared.errors import CodeInvalidError, RateLimitedError, UpstreamUnavailableError, ValidationError
from shared.identifiers import country_calling_code
from shared.services.codes import EMAIL_CODE_TYPES, SMS_CODE_TYPES
from tests.fakes.clock import FakeClock
from tests.unit.helpers import FakeSender

PHONE = "13800138000"
E164 = "+8613800138000"
EMAIL = "alice@example.com"


@pytest.fixture
def senders() -> dict[str, FakeSender]:
    return {"sms": FakeSender("x"), "email": FakeSender("x")}


@pytest.fixture
def svc(make_services: Callable[..., Services], senders: dict[str, FakeSender]) -> Services:
    return make_services(senders=senders)


def test_five_code_types_in_a_minute_send_one_sms(svc: Services, senders, clock: FakeClock) -> None:
    # Given a login code just sent to a phone
    svc.codes.send("sms", PHONE, "login", "198.51.100.1")
    # When every other code type is asked for within the minute (from other IPs, in other formats)
    for index, code_type in enumerate(t for t in SMS_CODE_TYPES if t != "login"):
        clock.advance(5)
        with pytest.raises(RateLimitedError) as cooled:
            svc.codes.send("sms", ["+8613800138000", "008613800138000", PHONE][index % 3], code_type, f"10.0.0.{index}")
        # Then each is refused with the time left of the one cooldown
        assert cooled.value.data == {"retry_after": 60 - 5 * (index + 1)}
    # And one message went out, not five
    assert [(to, code_type) for to, _, code_type in senders["sms"].sent] == [(E164, "login")]


def test_after_the_cooldown_another_type_is_sent_and_codes_stay_bound_to_their_type(
    svc: Services, senders, clock: FakeClock
) -> None:
    # Given a login code, and a minute later a reset_password code to the same phone
    svc.codes.send("sms", PHONE, "login", None)
    login_code = senders["sms"].sent[-1][1]
    clock.advance(60)
    svc.codes.send("sms", PHONE, "reset_password", None)
    reset_code = senders["sms"].sent[-1][1]
    # Then both were sent, each proves only its own type, and the first is still valid
    assert [code_type for _, _, code_type in senders["sms"].sent] == ["login", "reset_password"]
    if reset_code != login_code:
        with pytest.raises(CodeInvalidError):
            svc.codes.verify("sms", PHONE, "login", reset_code)
    assert svc.codes.verify("sms", PHONE, "login", login_code) == E164
    assert svc.codes.verify("sms", PHONE, "reset_password", reset_code) == E164


def test_the_email_cooldown_is_per_address_whatever_the_type(svc: Services, senders, clock: FakeClock) -> None:
    svc.codes.send("email", EMAIL, "register", None)
    clock.advance(10)
    for code_type in (t for t in EMAIL_CODE_TYPES if t != "register"):
        with pytest.raises(RateLimitedError):
            svc.codes.send("email", EMAIL.upper(), code_type, None)
    assert len(senders["email"].sent) == 1


def test_the_cooldown_is_per_target(svc: Services, senders) -> None:
    # Given a code sent to one phone / When another phone and an email ask at once / Then they are sent
    svc.codes.send("sms", PHONE, "login", None)
    svc.codes.send("sms", "13900139000", "register", None)
    svc.codes.send("email", EMAIL, "register", None)
    assert [to for to, _, _ in senders["sms"].sent + senders["email"].sent] == [E164, "+8613900139000", EMAIL]


def test_concurrent_requests_of_every_type_send_one_message(svc: Services, senders) -> None:
    # Given 15 senders asking at once for codes of every type to one phone
    types = list(SMS_CODE_TYPES) * 3

    def ask(code_type: str) -> str:
        try:
            svc.codes.send("sms", PHONE, code_type, None)
        except RateLimitedError:
            return "cooled"
        return "sent"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(ask, types))
    # Then exactly one was sent
    assert outcomes.count("sent") == 1 and len(senders["sms"].sent) == 1


def test_a_failed_delivery_frees_the_cooldown_for_every_type(svc: Services, senders, scan_table) -> None:
    # Given a provider outage on the first try
    senders["sms"].fail = True
    with pytest.raises(UpstreamUnavailableError):
        svc.codes.send("sms", PHONE, "login", None)
    # Then nothing holds the cooldown, and a code of another type goes out at once
    assert not [item for item in scan_table() if str(item["PK"]).startswith(("CODE#", "COOLDOWN#"))]
    senders["sms"].fail = False
    svc.codes.send("sms", PHONE, "register", None)
    assert [code_type for _, _, code_type in senders["sms"].sent] == ["register"]


# -- SMS_ALLOWED_COUNTRY_CODES --------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+14155550100", "+447700900123", "+85291234567", "+2812345678"])
def test_numbers_outside_the_default_countries_get_422_naming_phone(
    svc: Services, senders, scan_table, number: str
) -> None:
    # Given the default setting (86 only) / When a code is asked for a number of another country
    with pytest.raises(ValidationError) as refused:
        svc.codes.send("sms", number, "login", "198.51.100.1")
    # Then it is a 422 naming phone, nothing was sent and nothing written (no cooldown, no counter)
    assert list((refused.value.errors or {}).keys()) == ["phone"]
    assert senders["sms"].sent == [] and scan_table() == []


def test_listed_countries_are_sent_to(make_services: Callable[..., Services], senders) -> None:
    svc = make_services(senders=senders, sms_allowed_country_codes=("86", "1"))
    svc.codes.send("sms", "+14155550100", "login", None)
    svc.codes.send("sms", PHONE, "login", None)
    with pytest.raises(ValidationError):
        svc.codes.send("sms", "+447700900123", "login", None)
    assert [to for to, _, _ in senders["sms"].sent] == ["+14155550100", E164]


def test_a_star_allows_every_country(make_services: Callable[..., Services], senders) -> None:
    svc = make_services(senders=senders, sms_allowed_country_codes=("*",))
    svc.codes.send("sms", "+447700900123", "login", None)
    assert senders["sms"].sent[0][0] == "+447700900123"


def test_a_bad_code_type_and_a_foreign_number_are_listed_together(svc: Services) -> None:
    with pytest.raises(ValidationError) as refused:
        svc.codes.send("sms", "+14155550100", "nonsense", None)
    assert set(refused.value.errors or {}) == {"code_type", "phone"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ("86",)), ("", ("86",)), ("86", ("86",)), ("86, +1,852", ("86", "1", "852")), ("*", ("*",))],
)
def test_the_setting_is_parsed_from_the_environment(raw: str | None, expected: tuple[str, ...]) -> None:
    env: dict[str, Any] = {} if raw is None else {"SMS_ALLOWED_COUNTRY_CODES": raw}
    assert Settings.from_env(env).sms_allowed_country_codes == expected


@pytest.mark.parametrize(
    ("number", "code"),
    [("+8613800138000", "86"), ("+14155550100", "1"), ("+79161234567", "7"), ("+85291234567", "852"), ("+2812", None)],
)
def test_country_calling_code(number: str, code: str | None) -> None:
    assert country_calling_code(number) == code


# -- many people behind one IP (carrier NAT, a company proxy) -------------------------------------------


def test_an_ip_past_its_hourly_share_goes_on_with_a_captcha_up_to_a_hard_cap(
    make_services: Callable[..., Services], senders, clock: FakeClock, scan_table
) -> None:
    from shared.errors import CaptchaInvalidError, CaptchaRequiredError
    from shared.services.captcha import answer_hash

    svc = make_services(senders=senders, code_ip_hourly_limit=2)
    clock.now = int(clock.now) // 3600 * 3600 + 60  # no hour boundary is crossed below
    repo = svc.captchas.repository

    def solved(key: str) -> Callable[[], None]:
        repo.put(key, answer_hash(key, "AB3K"), clock() + 300)
        return lambda: svc.captchas.check(key, "ab3k")

    # Given two codes already sent from one IP (its share without a captcha) to two people
    for n in range(2):
        svc.codes.send("sms", f"1390000000{n}", "login", "100.64.0.1")

    # When a third person behind the same IP asks without a captcha, then 429 says a captcha would do
    with pytest.raises(CaptchaRequiredError) as refused:
        svc.codes.send("sms", "13900000002", "login", "100.64.0.1")
    assert refused.value.status == 429 and refused.value.data["captcha_required"] is True
    # And a wrong captcha is 400, costing nothing (no code, no cooldown, nothing counted)
    before = sorted((i["PK"], i.get("hits")) for i in scan_table())
    with pytest.raises(CaptchaInvalidError):
        svc.codes.send("sms", "13900000002", "login", "100.64.0.1", lambda: svc.captchas.check("nope", "x"))
    assert sorted((i["PK"], i.get("hits")) for i in scan_table()) == before
    # And a solved captcha sends the code
    assert svc.codes.send("sms", "13900000002", "login", "100.64.0.1", solved("k0"))["phone"] == "+8613900000002"
    # And with captchas the IP reaches a hard cap (10x its share: 20 more), then plain 429s
    for n in range(3, 22):
        svc.codes.send("sms", f"139000000{n:02d}", "login", "100.64.0.1", solved(f"k{n}"))
    with pytest.raises(RateLimitedError) as capped:
        svc.codes.send("sms", "13900000099", "login", "100.64.0.1", solved("k99"))
    assert not isinstance(capped.value, CaptchaRequiredError)
    assert len(senders["sms"].sent) == 2 + 20
