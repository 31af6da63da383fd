"""The interface of a message provider, and its one failure type."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


class Breaker:
    """A circuit breaker per container: open after ``failures`` upstream failures in a row, for
    ``open_seconds``; then one call is let through, and its outcome closes or reopens it."""

    def __init__(self, failures: int = 5, open_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.failures = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self._streak = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            if self._streak < self.failures:
                return True
            if self.clock() >= self._open_until:
                self._open_until = self.clock() + self.open_seconds  # one trial call; others wait it out
                return True
            return False

    def succeeded(self) -> None:
        with self._lock:
            self._streak = 0

    def failed(self) -> None:
        with self._lock:
            self._streak += 1
            if self._streak >= self.failures:
                self._open_until = self.clock() + self.open_seconds


class GuardedSender:
    """A provider behind a :class:`Breaker`: after ``failures`` failed sends in a row the container stops
    calling it for a while and fails at once (503, nothing kept), so an outage holds no function for
    its timeout and costs the provider no retry storm."""

    def __init__(self, sender: CodeSender, breaker: Breaker | None = None) -> None:
        self.sender = sender
        self.channel = getattr(sender, "channel", "")
        self.breaker = breaker or Breaker()

    def send_code(self, to: str, code: str, code_type: str) -> None:
        if not self.breaker.allow():
            provider_failed(self.channel)
            raise ProviderError(f"{type(self.sender).__name__}: circuit open")
        try:
            self.sender.send_code(to, code, code_type)
        except ProviderError:
            self.breaker.failed()
            provider_failed(self.channel)
            raise
        self.breaker.succeeded()


def provider_failed(channel: str) -> None:
    """Count a message or WeChat call that failed (``SmsFailures``, ``EmailFailures``,
    ``WechatFailures``: the metrics behind the provider alarms of template.yaml, docs/operations.md)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from shared.observability import metrics

    metrics.add_metric(name=f"{channel.capitalize() or 'Provider'}Failures", unit=MetricUnit.Count, value=1)
