"""Aliyun SMS (Dysms ``SendSms``, API version 2017-05-25) with its RPC request signature.

The request is an HTTPS GET whose parameters are signed with HMAC-SHA1 over
``GET&%2F&<percent-encoded canonical query>`` using ``AccessKeySecret + "&"`` (signature version 1.0).
Sign name and template code come from configuration; the AccessKey pair from SSM/Secrets Manager in AWS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared.providers.base import ProviderError

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's RPC signature wants it (``~`` kept, space as ``%20``)."""
    return quote(value, safe="~")


def sign(params: dict[str, str], secret: str, method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aliyun_phone(e164: str) -> str:
    """Mainland numbers without +86; others with the 00 international prefix."""
    return e164[3:] if e164.startswith("+86") else "00" + e164.lstrip("+")


class AliyunSmsSender:
    channel = "sms"

    def __init__(
        self,
        credentials: Callable[[], tuple[str, str]],
        sign_name: str,
        template_code: str,
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float = 3.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.credentials = credentials
        self.sign_name = sign_name
        self.template_code = template_code
        self.endpoint = endpoint
        self.timeout = timeout
        self.clock = clock

    def request_params(self, to: str, code: str) -> dict[str, str]:
        access_key_id, secret = self.credentials()
        params = {
            "AccessKeyId": access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": aliyun_phone(to),
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"code": code}),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = sign(params, secret)
        return params

    def send_code(self, to: str, code: str, code_type: str) -> None:
        import requests

        try:
            response = requests.get(self.endpoint, params=self.request_params(to, code), timeout=self.timeout)
            body: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderError(f"Aliyun SMS: {type(exc).__name__}") from exc
        if body.get("Code") != "OK":
            raise ProviderError(f"Aliyun SMS refused: {body.get('Code')}")
