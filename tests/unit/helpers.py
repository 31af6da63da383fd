"""Plain helpers shared by the unit tests (fixtures live in conftest.py beside this file)."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from shared.db.models import AppItem, UserItem
from shared.providers.base import ProviderError

PASSWORD = "secret123"


def set_status(user_id: str, status: str) -> None:
    """Change a user's status straight in the table (what an admin's disable does)."""
    UserItem(pk=f"USER#{user_id}", sk="PROFILE").update(actions=[UserItem.status.set(status)])


def create_app(app_name: str, default_role: str | None = None, now: float = 0) -> None:
    """An app item, as the admin API would create it."""
    AppItem(pk=f"APP#{app_name}", sk="META", app_name=app_name, default_role=default_role, created_at=int(now)).save()


def b64url(raw: bytes | dict[str, Any]) -> str:
    """Base64url without padding, of bytes or of compact JSON."""
    if isinstance(raw, dict):
        raw = json.dumps(raw, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bind_email_code(services: Any, email: str) -> str:
    """Send a ``bind`` code to ``email`` through the real code service and read it from the local outbox."""
    from pathlib import Path

    services.codes.send("email", email, "bind", "203.0.113.9")
    lines = Path(services.settings.local_outbox).read_text(encoding="utf-8").splitlines()
    return str(json.loads(lines[-1])["code"])


class FakeSender:
    """An in-memory provider: records what it delivers, or fails when told to."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[tuple[str, str, str]] = []
        self.fail = False
        self._lock = threading.Lock()

    def send_code(self, to: str, code: str, code_type: str) -> None:
        if self.fail:
            raise ProviderError("down")
        with self._lock:
            self.sent.append((to, code, code_type))

    def last(self) -> str:
        return self.sent[-1][1]
