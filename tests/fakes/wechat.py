"""A local stand-in for WeChat's sign-in API, answering with the real response shapes.

Codes it knows: ``<name>`` signs in person ``<name>`` (openid depends on the AppID, unionid does not);
``bad`` → errcode 40029 (invalid code); ``used`` → 40163 (code been used); ``slow`` → answers after 2 s;
``busy`` → errcode -1 (WeChat's "system busy, try again"); ``down`` → HTTP 502 with an HTML page;
``nounion-<name>`` → no unionid. Every request is recorded, with the secret it carried.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http import reply


class FakeWechat:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                outer.requests.append((url.path, params))
                body = outer.answer(url.path, params)
                data = json.dumps(body, ensure_ascii=False).encode()
                status, content_type = 200, "application/json; encoding=utf-8"  # errors too: 200 + errcode
                if (params.get("code") or params.get("js_code")) == "down":
                    status, content_type, data = 502, "text/html", b"<html><body>502 Bad Gateway</body></html>"
                reply(self, status, content_type, data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        code = params.get("code") or params.get("js_code") or ""
        app_id = params.get("appid", "")
        if path.endswith("/sns/userinfo"):
            person = params.get("access_token", "").removeprefix("token-")
            return {
                "openid": params.get("openid"),
                "nickname": f"{person}的微信",
                "sex": 1,
                "province": "Guangdong",
                "city": "Shenzhen",
                "country": "CN",
                "headimgurl": f"https://thirdwx.qlogo.cn/{person}.png",
                "privilege": [],
                "unionid": f"union-{person}",
            }
        if self.secrets.get(app_id) != params.get("secret"):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if code == "bad":
            return {"errcode": 40029, "errmsg": "invalid code, rid: 6576a6b5-4cb30a39-1c3c1bd1"}
        if code == "used":
            return {"errcode": 40163, "errmsg": "code been used, rid: 6576a6c1-0f0d0a7e-0e5e7b22"}
        if code == "busy":
            return {"errcode": -1, "errmsg": "system error"}
        if code == "slow":
            time.sleep(2)
            code = "slowpoke"
        person = code.removeprefix("nounion-")
        answer: dict[str, Any] = {"openid": f"o-{app_id}-{person}"}
        if not code.startswith("nounion-"):
            answer["unionid"] = f"union-{person}"
        if path.endswith("/sns/jscode2session"):
            return {**answer, "session_key": "tiihtNczf5v6AKRyjwEUhQ=="}
        return {
            **answer,
            "access_token": f"token-{person}",
            "expires_in": 7200,
            "refresh_token": "r",
            "scope": "snsapi_login",
        }


@contextmanager
def fake_wechat(secrets: dict[str, str]) -> Iterator[FakeWechat]:
    server = FakeWechat(secrets)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
