"""Message providers against real-shaped peers: moto for SNS and SES, a local fake Aliyun endpoint that
checks the request signature and answers like Dysms does (success, errors, delays)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from shared.config import Settings
from shared.errors import ConfigurationError
from shared.providers.aliyun import AliyunSmsSender, aliyun_phone, sign
from shared.providers.aws import SesSender, SnsSender
from shared.providers.base import ProviderError
from shared.providers.console import ConsoleSender
from shared.providers.factory import build_senders
from tests.fakes.dysms import KEY_ID, SECRET, FakeDysms, fake_dysms


def test_console_writes_the_outbox_line_of_api_md(tmp_path: Path) -> None:
    outbox = tmp_path / "nested" / "outbox.jsonl"
    ConsoleSender("sms", str(outbox), clock=lambda: 1_790_000_000).send_code("+8613800138000", "123456", "login")
    ConsoleSender("email", str(outbox)).send_code("a@example.com", "654321", "register")
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert lines[0] == {
        "channel": "sms",
        "to": "+8613800138000",
        "code": "123456",
        "code_type": "login",
        "sent_at": "2026-09-21T14:13:20Z",
    }
    assert lines[1]["channel"] == "email" and lines[1]["code"] == "654321"


def test_console_is_refused_in_prod_and_unknown_providers_too() -> None:
    with pytest.raises(ConfigurationError):
        build_senders(Settings(stage="prod"))
    with pytest.raises(ConfigurationError):
        build_senders(Settings(sms_provider="carrier-pigeon"))
    with pytest.raises(ConfigurationError):
        build_senders(Settings(email_provider="ses"))  # needs EMAIL_FROM


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_sns_publishes_the_message(aws: None) -> None:
    client = boto3.client("sns", region_name="us-east-1")
    SnsSender(client=client).send_code("+8613800138000", "123456", "login")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sent = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    assert any(number == "+8613800138000" and "123456" in text for number, text in sent.values())


def test_sns_failure_is_a_provider_error(aws: None) -> None:
    client = boto3.client("sns", region_name="us-east-1")
    with pytest.raises(ProviderError):
        SnsSender(client=client).send_code("not-a-number", "123456", "login")


def test_ses_sends_from_a_verified_sender_and_fails_otherwise(aws: None) -> None:
    client = boto3.client("ses", region_name="us-east-1")
    with pytest.raises(ProviderError):  # unverified sender: SES rejects the message
        SesSender("noreply@example.com", client=client).send_code("a@example.com", "123456", "register")
    client.verify_email_identity(EmailAddress="noreply@example.com")
    SesSender("noreply@example.com", client=client).send_code("a@example.com", "123456", "register")
    assert client.get_send_quota()["SentLast24Hours"] == 1


# -- Aliyun ------------------------------------------------------------------------------------------


@pytest.fixture
def dysms() -> Iterator[FakeDysms]:
    with fake_dysms() as server:
        yield server


def sender(url: str, secret: str = SECRET, timeout: float = 5) -> AliyunSmsSender:
    return AliyunSmsSender(lambda: (KEY_ID, secret), "用户中心", "SMS_123456789", endpoint=url, timeout=timeout)


def test_aliyun_sends_a_signed_request(dysms: FakeDysms) -> None:
    sender(dysms.url).send_code("+8613800138000", "123456", "login")
    request = dysms.requests[-1]
    assert request["Action"] == "SendSms" and request["Version"] == "2017-05-25"
    assert request["PhoneNumbers"] == "13800138000" and json.loads(request["TemplateParam"]) == {"code": "123456"}
    assert request["SignName"] == "用户中心" and request["AccessKeyId"] == KEY_ID
    assert request["SignatureMethod"] == "HMAC-SHA1" and request["SignatureVersion"] == "1.0"
    datetime.strptime(request["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize("mode", ["bad-secret", "limit", "slow"])
def test_aliyun_refusals_and_timeouts_are_provider_errors(dysms: FakeDysms, mode: str) -> None:
    dysms.mode = "slow" if mode == "slow" else ("limit" if mode == "limit" else "ok")
    secret = "wrong-secret" if mode == "bad-secret" else SECRET
    with pytest.raises(ProviderError):
        sender(dysms.url, secret=secret, timeout=0.5).send_code("+8613800138000", "123456", "login")


def test_aliyun_network_failure_is_a_provider_error() -> None:
    with pytest.raises(ProviderError):
        sender("http://127.0.0.1:9/", timeout=1).send_code("+8613800138000", "123456", "login")


def test_aliyun_signature_matches_the_documented_example() -> None:
    # Parameters and secret of Alibaba Cloud's published SendSms signature walkthrough.
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sign(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_phone("+8613800138000") == "13800138000" and aliyun_phone("+14155552671") == "0014155552671"


def test_a_failing_provider_is_left_alone_for_a_while_then_tried_once(dysms: FakeDysms) -> None:
    from shared.providers.base import Breaker, GuardedSender

    # Given Aliyun answering 503 and a sender behind a breaker (3 failures, 30 s) on a test clock
    dysms.mode = "down"
    now = [100.0]
    guarded = GuardedSender(sender(dysms.url, timeout=1), Breaker(failures=3, open_seconds=30, clock=lambda: now[0]))

    # When codes keep failing, then only the first three reach Aliyun; the others fail at once
    for _ in range(6):
        with pytest.raises(ProviderError):
            guarded.send_code("+8613800138000", "123456", "login")
    assert len(dysms.requests) == 3
    # And after the open time one trial goes out; Aliyun is back, so the breaker closes
    dysms.mode = "ok"
    now[0] += 31
    guarded.send_code("+8613800138000", "123456", "login")
    guarded.send_code("+8613800138000", "654321", "login")
    assert len(dysms.requests) == 5


def test_each_failed_send_is_counted_for_the_provider_alarm(dysms: FakeDysms) -> None:
    from shared.observability import metrics
    from shared.providers.base import Breaker, GuardedSender

    dysms.mode = "down"
    guarded = GuardedSender(sender(dysms.url, timeout=1), Breaker(failures=2, open_seconds=30))
    metrics.clear_metrics()
    for _ in range(3):  # two reach Aliyun, the third finds the circuit open: all three count
        with pytest.raises(ProviderError):
            guarded.send_code("+8613800138000", "123456", "login")
    assert metrics.metric_set["SmsFailures"]["Value"] == [1.0, 1.0, 1.0]
    dysms.mode = "ok"
    metrics.clear_metrics()
    GuardedSender(sender(dysms.url, timeout=1)).send_code("+8613800138000", "123456", "login")
    assert "SmsFailures" not in metrics.metric_set


def test_deployed_providers_sit_behind_a_breaker_with_short_timeouts() -> None:
    from shared.providers.aliyun import AliyunSmsSender
    from shared.providers.base import GuardedSender

    senders = build_senders(Settings(sms_provider="aliyun", email_provider="ses", email_from="noreply@example.com"))
    assert isinstance(senders["sms"], GuardedSender) and isinstance(senders["email"], GuardedSender)
    assert isinstance(senders["sms"].sender, AliyunSmsSender) and senders["sms"].sender.timeout <= 3
