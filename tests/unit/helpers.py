"""Plain helpers shared by the unit tests (fixtures live in conftest.py beside this file)."""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.db.models import AppItem, UserItem

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
