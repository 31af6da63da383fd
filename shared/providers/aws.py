"""AWS SNS (SMS) and SES (email) through boto3; clients are created on first use."""

from __future__ import annotations

from typing import Any

from shared.providers.base import ProviderError, message_text


def _client(service: str, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        # Far below the function's 10 s, and no retry: a resent SMS is a second message (GuardedSender
        # stops calling a provider that keeps failing).
        service,
        region_name=region,
        config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 0}),
    )


class SnsSender:
    channel = "sms"

    def __init__(self, region: str | None = None, sender_id: str | None = None, client: Any = None) -> None:
        self.region = region
        self.sender_id = sender_id
        self._client = client

    def send_code(self, to: str, code: str, code_type: str) -> None:
        if self._client is None:
            self._client = _client("sns", self.region)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        try:
            self._client.publish(PhoneNumber=to, Message=message_text(code, code_type), MessageAttributes=attributes)
        except Exception as exc:  # botocore errors, timeouts: all mean "not delivered"
            raise ProviderError(f"SNS: {type(exc).__name__}") from exc


class SesSender:
    channel = "email"

    def __init__(self, sender: str, region: str | None = None, client: Any = None) -> None:
        self.sender = sender
        self.region = region
        self._client = client

    def send_code(self, to: str, code: str, code_type: str) -> None:
        if self._client is None:
            self._client = _client("ses", self.region)
        text = message_text(code, code_type)
        try:
            self._client.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": "验证码 Verification code", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
            )
        except Exception as exc:
            raise ProviderError(f"SES: {type(exc).__name__}") from exc
