"""The center's page asks for a captcha where the API would (issue 11): code sends from an IP past its
hourly share go on with a captcha, as API.md section 6 has it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from functions.center import app as center
from shared import container
from shared.container import Services
from shared.schemas import AppBody
from shared.services.captcha import answer_hash
from tests.handlers.test_center_wechat import AUTHORIZE, CALLBACK, CONTEXT, cookies_set, request
from tests.unit.helpers import FakeSender


@pytest.fixture
def senders() -> dict[str, FakeSender]:
    return {"sms": FakeSender("sms"), "email": FakeSender("email")}


@pytest.fixture
def shop(make_services: Callable[..., Services], senders: Any) -> Iterator[Services]:
    built = make_services(senders=senders, code_ip_hourly_limit=1)
    built.apps.create(AppBody(app_name="shop", redirect_uris=[CALLBACK]))
    container.override(built)
    yield built
    container.override(None)


def post(page: dict[str, Any], cookies: dict[str, str], **fields: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Submit the page's form (its CSRF token and hidden fields, and ``fields``) as the browser would."""
    body = page["body"]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    action = re.search(r'<form method="post" action="([^"]+)"', body).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    path, _, query = action.partition("?")
    event = request(path, dict(parse_qsl(query)), cookies)
    event["httpMethod"] = "POST"
    event["headers"].update({"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1:3000"})
    event["body"] = urlencode({**hidden, **fields})
    answer = center.lambda_handler(event, CONTEXT)
    return answer, {**cookies, **cookies_set(answer)}


def test_code_sends_past_the_ip_share_need_the_captcha_on_the_page(shop: Services, senders: Any) -> None:
    page = center.lambda_handler(request("/oauth2/authorize", {**AUTHORIZE, "tab": "sms"}), CONTEXT)
    cookies = cookies_set(page)
    first, cookies = post(page, cookies, method="sms_send", phone="13900000001")
    assert first["statusCode"] == 200, re.findall(r'role="alert">([^<]*)', first["body"]) or first["body"][:300]
    assert 'name="captcha_key"' not in first["body"]
    # The IP's share is spent: the page shows a captcha for the next send
    asked, cookies = post(first, cookies, method="sms_send", phone="13900000002")
    assert asked["statusCode"] == 429 and '<img src="data:image/png;base64,' in asked["body"]
    key = re.search(r'name="captcha_key" value="([^"]+)"', asked["body"]).group(1)  # type: ignore[union-attr]
    wrong, cookies = post(asked, cookies, method="sms_send", phone="13900000002", captcha_code="nope")
    assert wrong["statusCode"] == 400 and 'name="captcha_key"' in wrong["body"]  # a new one to try
    key = re.search(r'name="captcha_key" value="([^"]+)"', wrong["body"]).group(1)  # type: ignore[union-attr]
    shop.captchas.repository.put(key, answer_hash(key, "AB3K"), 2**40)  # the image's characters, as read
    sent, _ = post(wrong, cookies, method="sms_send", phone="13900000002", captcha_code="ab3k")
    assert sent["statusCode"] == 200 and 'data-wait="60"' in sent["body"]
    assert [to for to, *_ in senders["sms"].sent] == ["+8613900000001", "+8613900000002"]
