"""The caller as the user center's authorizer describes it (``event.requestContext.authorizer``).

The authorizer has already checked the token, the session and the route's requirement; these helpers
let a handler read who is calling and add finer checks (for example one that depends on the body).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])


class NotAuthenticated(Exception):
    """No authorizer context: the route is not behind the user center's authorizer."""


class Forbidden(Exception):
    """The caller lacks the role or permission."""


@dataclass(frozen=True)
class CurrentUser:
    user_id: str
    session_id: str
    app_name: str
    roles: frozenset[str]
    permissions: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions


def _split(value: Any) -> frozenset[str]:
    return frozenset(part for part in str(value or "").split(",") if part)


def current_user(event: Mapping[str, Any]) -> CurrentUser:
    """The caller of an API Gateway (REST, Lambda proxy) event.

    Raises:
        NotAuthenticated: the event carries no user center authorizer context.
    """
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = context.get("user_id")
    if not user_id:
        raise NotAuthenticated()
    return CurrentUser(
        user_id=str(user_id),
        session_id=str(context.get("session_id", "")),
        app_name=str(context.get("app_name", "")),
        roles=_split(context.get("roles")),
        permissions=_split(context.get("permissions")),
    )


def _refusal(status: int, error: str, message: str) -> dict[str, Any]:
    body = {
        "success": False,
        "code": status,
        "message": message,
        "error": error,
        "data": None,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": json.dumps(body, ensure_ascii=False),
    }


def _guard(check: Callable[[CurrentUser], bool]) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: Mapping[str, Any], context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                user = current_user(event)
            except NotAuthenticated:
                return _refusal(401, "UNAUTHORIZED", "未登录或登录已失效")
            if not check(user):
                return _refusal(403, "PERMISSION_DENIED", "没有权限")
            return handler(event, context, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def require_role(role: str) -> Callable[[Handler], Handler]:
    """Handler decorator: the caller must hold ``role`` in the token's app (else a 403 envelope)."""
    return _guard(lambda user: user.has_role(role))


def require_roles(roles: Iterable[str]) -> Callable[[Handler], Handler]:
    """Handler decorator: the caller must hold at least one of ``roles``."""
    wanted = frozenset(roles)
    return _guard(lambda user: user.has_any_role(wanted))


def require_permission(permission: str) -> Callable[[Handler], Handler]:
    """Handler decorator: the caller must hold ``permission`` in the token's app."""
    return _guard(lambda user: user.has_permission(permission))
