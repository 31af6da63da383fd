"""The interface of a message provider, and its one failure type."""

from __future__ import annotations

from typing import Protocol


class ProviderError(Exception):
    """The provider timed out, refused or failed: the code was not delivered (API: 503)."""


class CodeSender(Protocol):
    channel: str  # "sms" or "email"

    def send_code(self, to: str, code: str, code_type: str) -> None:
        """Deliver ``code`` to ``to``.

        Raises:
            ProviderError: it was not delivered.
        """
        ...


def message_text(code: str, code_type: str, minutes: int = 5) -> str:
    purposes = {
        "login": "登录",
        "register": "注册",
        "reset_password": "重置密码",
        "change_phone": "更换手机号",
        "bind": "绑定账号",
    }
    return f"您的{purposes.get(code_type, '')}验证码是 {code}，{minutes} 分钟内有效。请勿泄露给他人。"
