"""WeChat's server API for sign-in: ``sns/oauth2/access_token``, ``sns/userinfo``, ``sns/jscode2session``.

A short timeout on every call (``WECHAT_TIMEOUT``, 3 s by default: far below the function's timeout, so a
slow WeChat cannot hold a Lambda for its whole life). An ``errcode`` answer (40029 invalid code, 40163
code used, ...) becomes :class:`WechatApiError` (400 ``WECHAT_API_ERROR`` with ``errcode``/``errmsg``);
timeouts, network or HTTP failures and errcode -1 (WeChat's "system busy") become
:class:`~shared.errors.UpstreamUnavailableError` (503).
After ``Breaker.failures`` such failures in a row, the container stops calling WeChat for
``Breaker.open_seconds`` and answers 503 at once (a circuit breaker): an outage costs callers no waiting
and costs the account no concurrency. The ``session_key`` of a mini-program login is dropped here and
never leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import AppError, UpstreamUnavailableError
from shared.providers.base import Breaker, provider_failed

DEFAULT_BASE = "https://api.weixin.qq.com"


class WechatApiError(AppError):
    code, status = "WECHAT_API_ERROR", 400
    message_zh, message_en = "微信接口返回错误", "WeChat rejected the request"

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(data={"errcode": errcode, "errmsg": errmsg})


@dataclass(frozen=True)
class WechatUser:
    """What WeChat tells about a signed-in person (no session key, no access token)."""

    open_id: str
    union_id: str | None = None
    nickname: str | None = None
    avatar_url: str | None = None


BUSY = -1  # errcode of "system busy"


class WechatClient:
    def __init__(self, base_url: str = DEFAULT_BASE, timeout: float = 3.0, breaker: Breaker | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.breaker = breaker or Breaker()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        import requests

        if not self.breaker.allow():
            provider_failed("wechat")
            raise UpstreamUnavailableError()
        try:
            response = requests.get(f"{self.base_url}/{path}", params=params, timeout=self.timeout)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as exc:
            self.breaker.failed()
            provider_failed("wechat")
            raise UpstreamUnavailableError() from exc
        if body.get("errcode") == BUSY:  # WeChat's own "system busy, try again": an outage, not a bad code
            self.breaker.failed()
            provider_failed("wechat")
            raise UpstreamUnavailableError()
        self.breaker.succeeded()
        if body.get("errcode"):
            raise WechatApiError(int(body["errcode"]), str(body.get("errmsg", "")))
        return body

    def web_user(self, app_id: str, secret: str, code: str, with_profile: bool = True) -> WechatUser:
        """QR (open platform) or official-account OAuth: code → openid/unionid, then the profile."""
        token = self._get(
            "sns/oauth2/access_token",
            {"appid": app_id, "secret": secret, "code": code, "grant_type": "authorization_code"},
        )
        open_id, union_id = str(token["openid"]), token.get("unionid")
        nickname = avatar = None
        if with_profile and token.get("access_token"):
            profile = self._get("sns/userinfo", {"access_token": str(token["access_token"]), "openid": open_id})
            union_id = profile.get("unionid") or union_id
            nickname, avatar = profile.get("nickname"), profile.get("headimgurl")
        return WechatUser(open_id, str(union_id) if union_id else None, nickname, avatar)

    def miniapp_user(self, app_id: str, secret: str, code: str) -> WechatUser:
        """Mini-program ``wx.login`` code → openid/unionid (the session_key is not kept)."""
        body = self._get(
            "sns/jscode2session",
            {"appid": app_id, "secret": secret, "js_code": code, "grant_type": "authorization_code"},
        )
        union_id = body.get("unionid")
        return WechatUser(str(body["openid"]), str(union_id) if union_id else None)
