"""Back-channel logout delivery (issue 11): each client's logout token is POSTed until it answers 200 or
204, three tries with a backoff; what still failed is reported (on AWS, Lambda then retries the
asynchronous invocation); the browser's request hands the work off instead of waiting for it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from shared.center import backchannel
from shared.center.backchannel import Notice


class Answer:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def test_each_client_is_tried_until_it_answers_then_given_up_after_three() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    answers = {"https://a.example/bc": [Answer(503), Answer(200)], "https://b.example/bc": [Answer(500)] * 3}

    def post(uri: str, data: dict[str, str], **_: Any) -> Answer:
        calls.append((uri, data))
        if uri == "https://c.example/bc":
            raise requests.ConnectionError("refused")
        return answers[uri].pop(0)

    slept: list[float] = []
    batch = [
        Notice("a", "https://a.example/bc", "token-a"),
        Notice("b", "https://b.example/bc", "token-b"),
        Notice("c", "https://c.example/bc", "token-c"),
    ]
    failed = backchannel.deliver(batch, post=post, sleep=slept.append)
    assert [n.client_id for n in failed] == ["b", "c"]
    assert [uri for uri, _ in calls].count("https://a.example/bc") == 2
    assert [uri for uri, _ in calls].count("https://b.example/bc") == 3
    assert calls[0][1] == {"logout_token": "token-a"}
    assert slept == [0.5, 0.5, 1.0, 0.5, 1.0]  # between tries only


def test_an_invocation_with_an_undelivered_notice_fails_so_lambda_retries_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backchannel, "deliver", lambda batch: batch[1:])
    event = {backchannel.EVENT_KEY: [{"client_id": "a", "uri": "https://a/bc", "logout_token": "t"}] * 2}
    with pytest.raises(RuntimeError, match="1 back-channel"):
        backchannel.handle_invocation(event)
    monkeypatch.setattr(backchannel, "deliver", lambda batch: [])
    assert backchannel.handle_invocation(event) == {"delivered": 2}


def test_on_aws_the_request_hands_the_notices_to_an_asynchronous_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    invoked: list[dict[str, Any]] = []

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> None:
            invoked.append(kwargs)

    import boto3

    monkeypatch.setattr(boto3, "client", lambda service: FakeLambda())
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-CenterFunction-abc")
    delivered: list[Any] = []
    monkeypatch.setattr(backchannel, "deliver", lambda batch: delivered.append(batch))
    backchannel.dispatch([Notice("a", "https://a/bc", "t")], local_mode=False)
    assert invoked[0]["FunctionName"] == "stack-CenterFunction-abc" and invoked[0]["InvocationType"] == "Event"
    assert json.loads(invoked[0]["Payload"]) == {
        backchannel.EVENT_KEY: [{"client_id": "a", "uri": "https://a/bc", "logout_token": "t"}]
    }
    assert delivered == []  # nothing delivered while the browser waits
