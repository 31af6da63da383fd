"""A local stand-in for Aliyun's SMS API (Dysms): checks each SendSms request's signature with the shared
secret and answers like Dysms does. Modes: ``ok``, ``limit`` (its rate-limit refusal), ``slow`` (answers
after 1.5 s), ``down`` (HTTP 503 with an HTML page, as a gateway in front of it does)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from shared.providers.aliyun import sign
from tests.fakes.http import reply

KEY_ID, SECRET = "LTAI-test-id", "test-secret-value"


class FakeDysms:
    """Checks each SendSms request's signature with the shared secret and answers like Dysms."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                outer.requests.append(params)
                signature = params.pop("Signature", "")
                if outer.mode == "slow":
                    time.sleep(1.5)
                if signature != sign(params, SECRET):
                    status, body = (
                        400,
                        {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"},
                    )
                elif outer.mode == "limit":
                    status, body = 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
                else:
                    status, body = (
                        200,
                        {"Code": "OK", "Message": "OK", "BizId": "9006197469364984400", "RequestId": "F655A8D5"},
                    )
                data = json.dumps(body, ensure_ascii=False).encode()
                content_type = "application/json;charset=utf-8"
                if outer.mode == "down":
                    status, data, content_type = (
                        503,
                        b"<html><body>503 Service Temporarily Unavailable</body></html>",
                        "text/html",
                    )
                reply(self, status, content_type, data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"


@contextmanager
def fake_dysms() -> Iterator[FakeDysms]:
    server = FakeDysms()
    try:
        yield server
    finally:
        server.httpd.shutdown()
