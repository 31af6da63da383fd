"""Lambda authorizer logic (API.md section 8): token → principal → cache-correct IAM policy.

API Gateway caches the policy by token for the authorizer cache TTL and reuses it for every route of the
API, so the policy must be right for all routes, not only the one being called: it allows the whole API
and explicitly denies each route whose requirement the principal does not meet (an explicit Deny beats
the Allow). Routes with no entry in the requirement map need only a valid session.

Requirement map: ``{"METHOD /path/{param}": "user" | "role:<code>" | "perm:<code>"}``, from the
``ROUTE_REQUIREMENTS`` setting that the deploying stack writes in its template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import AppError, ConfigurationError


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401 (its contract: the message must be "Unauthorized")."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str
    app_name: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]

    def meets(self, requirement: str) -> bool:
        kind, _, value = requirement.partition(":")
        if kind == "user":
            return True
        if kind == "role":
            return value in self.roles
        if kind == "perm":
            return value in self.permissions
        return False  # unknown requirement kinds deny (fail closed)


@dataclass(frozen=True)
class RouteRequirement:
    method: str
    path: str
    requirement: str

    def resource_patterns(self) -> list[str]:
        """``METHOD/path`` ARN suffixes, with and without a trailing slash.

        A path parameter becomes ``?*`` (one character or more), so ``/users/{id}`` does not match
        ``/users/``. IAM wildcards also match ``/``: a parameter route's Deny covers deeper paths
        below it too, which can only ever deny more, never allow more (docs/architecture.md).
        """
        parts = [("?*" if p.startswith("{") else p) for p in self.path.strip("/").split("/") if p]
        path = "/".join(parts)
        return [f"{self.method}/{path}", f"{self.method}/{path}/"]


def parse_requirements(raw: str | Mapping[str, str] | None) -> list[RouteRequirement]:
    """Parse the requirement map.

    Raises:
        ConfigurationError: the map is not valid (a deployment error, never a request error).
    """
    if not raw:
        return []
    try:
        mapping = json.loads(raw) if isinstance(raw, str) else dict(raw)
        result = []
        for route, requirement in mapping.items():
            method, path = route.split(" ", 1)
            if requirement.partition(":")[0] not in ("user", "role", "perm"):
                raise ValueError(requirement)
            result.append(RouteRequirement(method.upper(), "/" + path.strip().strip("/"), requirement))
        return result
    except (ValueError, AttributeError, TypeError) as exc:
        raise ConfigurationError("ROUTE_REQUIREMENTS is not a valid route map") from exc


def api_arn_prefix(method_arn: str) -> str:
    """``arn:aws:execute-api:region:account:apiId/stage`` of a method ARN.

    Raises:
        Unauthorized: the ARN is malformed.
    """
    arn, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not arn.startswith("arn:") or not stage:
        raise Unauthorized()
    return f"{arn}/{stage}"


def build_policy(principal: Principal, method_arn: str, routes: list[RouteRequirement]) -> dict[str, Any]:
    """The authorizer response: allow the API, deny each route the principal may not call."""
    prefix = api_arn_prefix(method_arn)
    denied = [
        f"{prefix}/{pattern}"
        for route in routes
        if not principal.meets(route.requirement)
        for pattern in route.resource_patterns()
    ]
    statements: list[dict[str, Any]] = [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{prefix}/*/*"]}
    ]
    if denied:
        statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": denied})
    return {
        "principalId": principal.user_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": {
            "user_id": principal.user_id,
            "session_id": principal.session_id,
            "app_name": principal.app_name,
            "roles": ",".join(principal.roles),
            "permissions": ",".join(principal.permissions),
        },
    }


def bearer(authorization: str | None) -> str:
    """The token of ``Bearer <token>``.

    Raises:
        Unauthorized: the header is missing or malformed.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
        raise Unauthorized()
    return token.strip()


def authorize(event: Mapping[str, Any], sessions: Any, routes: list[RouteRequirement]) -> dict[str, Any]:
    """Verify the bearer token and its session; return the cache-correct policy.

    ``sessions`` is a :class:`shared.services.sessions.SessionService` (one GetItem per call).

    Raises:
        Unauthorized: no token, a bad or expired token, or a revoked session.
    """
    token = bearer(event.get("authorizationToken"))
    try:
        _, session = sessions.verify(token)
    except AppError as exc:
        raise Unauthorized() from exc
    principal = Principal(
        user_id=session.user_id,
        session_id=session.session_id,
        app_name=session.app_name,
        roles=tuple(session.roles),
        permissions=tuple(session.permissions),
    )
    return build_policy(principal, str(event.get("methodArn", "")), routes)
