"""Plain helpers shared by the unit tests (fixtures live in conftest.py beside this file)."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from shared.container import Services
from shared.db.models import AppItem, UserItem
from shared.domain import UserRecord
from shared.providers.base import ProviderError
from shared.services.accounts import SignedIn
from shared.views import SessionView, SignIn, UserInfo

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


def user_info_of(result: SignedIn) -> dict[str, Any]:
    """``user_info`` of a sign-in, as the API answers it."""
    return UserInfo.of_record(result.record, result.app_name).model_dump(mode="json")


def sign_in_data(result: SignedIn) -> dict[str, Any]:
    """A sign-in's ``data``, as the API answers it."""
    return SignIn.of_result(result).model_dump(mode="json")


def info_of(services: Services, user_id: str, app_name: str) -> dict[str, Any]:
    """``user_info`` of a user in an app, as ``GET /api/auth/user/info/`` answers it."""
    return UserInfo.of_record(services.accounts.get(user_id, app_name), app_name).model_dump(mode="json")


def sessions_of(services: Services, user_id: str, current: str | None = None) -> list[dict[str, Any]]:
    """The user's live sessions, as ``GET /api/auth/sessions/`` lists them."""
    return [SessionView.of(s, current).model_dump(mode="json") for s in services.accounts.sessions_of(user_id)]


def user_view(record: UserRecord, app_name: str = "app0") -> dict[str, Any]:
    """``user_info`` of a user item a service returned, as the API answers it."""
    return UserInfo.of_record(record, app_name).model_dump(mode="json")


def hook_dynamodb_clients(monkeypatch: Any, services: Services, event: str, handler: Any) -> None:
    """Register ``handler`` for botocore ``event`` (e.g. ``before-send.dynamodb``) on every client PynamoDB
    creates from now on: PynamoDB makes new clients (per connection, per transaction), so there is no
    single client to hook. The models are rebound, so their cached clients are replaced too."""
    import botocore.session
    import pynamodb.connection.base

    from shared.db.models import bind

    make_session = pynamodb.connection.base.get_session

    def get_session() -> botocore.session.Session:
        session = make_session()
        session.register(event, handler)
        return session

    monkeypatch.setattr(pynamodb.connection.base, "get_session", get_session)
    settings = services.settings
    bind(settings.table_name, settings.region, settings.dynamodb_endpoint)
