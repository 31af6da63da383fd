"""The caller's sessions: list them, end one (API.md section 2)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.container import get_services
from shared.errors import NotFoundError
from shared.observability import tracer
from shared.views import Revoked, SessionList, SessionView

router = http.router()


@router.get("/api/auth/sessions", **http.requires("user"), **http.answers(SessionList))
@tracer.capture_method
def list_sessions(me: http.Me) -> Response[str]:
    """The caller's live sessions, oldest first, the current one marked."""
    sessions = get_services().accounts.sessions_of(me.user_id)
    return http.ok(router, SessionList(items=[SessionView.of(s, me.session_id) for s in sessions]))


@router.delete("/api/auth/sessions/<session_id>", **http.requires("user"), **http.answers(Revoked))
@tracer.capture_method
def delete_session(session_id: str, me: http.Me) -> Response[str]:
    """End one of the caller's sessions (404 when it is not theirs)."""
    revoked = get_services().sessions.revoke(me.user_id, session_id)
    if not revoked:
        raise NotFoundError()
    return http.ok(router, Revoked(revoked=revoked))
