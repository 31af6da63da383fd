"""SMS abuse through the codes function (issue 16, API.md section 7): one cooldown per phone number, and
no SMS to countries outside ``SMS_ALLOWED_COUNTRY_CODES``."""

from __future__ import annotations

import json
from pathlib import Path

from functions.codes import app as codes
from shared.container import Services
from tests.handlers.conftest import decode, headers_of


def outbox(services: Services) -> list[dict[str, str]]:
    path = Path(services.settings.local_outbox)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_foreign_number_is_422_naming_phone_and_nothing_is_sent(services: Services, event, context) -> None:
    # Given the default SMS_ALLOWED_COUNTRY_CODES (86)
    # When a code is asked for a US number
    response = codes.lambda_handler(event("codes-sms-code.json", body={"phone": "+14155550100"}), context)
    # Then it is a 422 naming phone, and no message went out
    answer = decode(response)
    assert (response["statusCode"], answer["error"]) == (422, "VALIDATION_ERROR")
    assert list(answer["errors"]) == ["phone"]
    assert outbox(services) == []


def test_a_second_code_type_within_the_minute_is_429_with_retry_after(services: Services, event, context) -> None:
    # Given a login code just sent
    first = codes.lambda_handler(event("codes-sms-code.json"), context)
    assert first["statusCode"] == 200
    # When a register code is asked for the same number in another format
    body = {"phone": "+86 138-0013-8000", "code_type": "register"}
    second = codes.lambda_handler(event("codes-sms-code.json", body=body), context)
    # Then it is 429 RATE_LIMITED with retry_after and a Retry-After header, and one SMS went out
    answer = decode(second)
    assert (second["statusCode"], answer["error"]) == (429, "RATE_LIMITED")
    assert 0 < answer["data"]["retry_after"] <= 60
    assert headers_of(second)["Retry-After"] == str(answer["data"]["retry_after"])
    assert [line["to"] for line in outbox(services)] == ["+8613800138000"]
