"""Injectable time and identifiers, so domain code never calls ``datetime.now()`` or ``uuid4()``."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, as a float."""

    def __call__(self) -> float: ...


def system_clock() -> float:
    """The real clock."""
    return time.time()


IdFactory = Callable[[], str]


def new_id() -> str:
    """A 128-bit random identifier, URL-safe: opaque to clients, unguessable."""
    return secrets.token_hex(16)


def iso(ts: float) -> str:
    """Epoch seconds as an ISO 8601 UTC string (``2026-11-21T12:00:00Z``)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
