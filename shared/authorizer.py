"""Lambda authorizer logic (API.md section 8): token → principal → cache-correct IAM policy.

API Gateway caches the policy by token for the authorizer cache TTL and reuses it for every route of
the API, so the policy must be right for all routes, not only the one being called. The authorizer
therefore knows every protected route of the API and its requirement (the route map, generated from
the routes' declarations at build time: ``buildtools/openapi.py``), and the policy

* allows each route the principal may call (or the whole API when it may call every route), and
* explicitly denies each route it may not call that one of those allows would otherwise cover
  (IAM's ``*`` also matches ``/``, so ``GET /menus/{id}`` would cover ``GET /menus/tree``).

When no exact Deny is possible (an unmet route whose shape also catches a permitted route), the
authorizer fails closed: it drops the allows that would cover the unmet route. Before returning, the
policy is checked against every route, in both slash spellings (docs/architecture.md).

Route map: ``{"METHOD /path/{param}": "user" | "role:<code>" | "perm:<code>"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.errors import AppError, ConfigurationError

PARAM_SAMPLE = "x0"  # stands for a path parameter's value when routes are checked against a policy


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

    def context(self) -> dict[str, str]:
        """The authorizer context API Gateway hands to the backend (API.md section 8)."""
        return {
            "user_id": self.user_id,
            "session_id": self.session_id,
            "app_name": self.app_name,
            "roles": ",".join(self.roles),
            "permissions": ",".join(self.permissions),
        }

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Principal:
        """The principal behind an authorizer context (what a protected route's handler receives)."""

        def split(name: str) -> tuple[str, ...]:
            return tuple(part for part in str(context.get(name) or "").split(",") if part)

        return cls(
            user_id=str(context["user_id"]),
            session_id=str(context.get("session_id") or ""),
            app_name=str(context.get("app_name") or ""),
            roles=split("roles"),
            permissions=split("permissions"),
        )

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

    def _segments(self, param: str) -> str:
        parts = [(param if p.startswith("{") else p) for p in self.path.strip("/").split("/") if p]
        return "/".join(parts)

    def resource_patterns(self) -> list[str]:
        """``METHOD/path`` ARN suffixes, with and without a trailing slash.

        A path parameter becomes ``?*`` (one character or more), so ``/users/{id}`` does not match
        ``/users/``. IAM wildcards also match ``/``; :func:`build_policy` corrects for that.
        """
        path = self._segments("?*")
        return [f"{self.method}/{path}", f"{self.method}/{path}/"]

    def sample_resources(self) -> list[str]:
        """Concrete ``METHOD/path`` suffixes this route serves (parameters filled with a sample)."""
        path = self._segments(PARAM_SAMPLE)
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


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM resource matching: ``*`` is any run of characters (``/`` too), ``?`` is one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


def _covers(patterns: list[str], resources: list[str]) -> bool:
    return any(_glob(p).match(r) for p in patterns for r in resources)


def _verdict(allow: list[str], deny: list[str], resource: str) -> bool:
    return _covers(allow, [resource]) and not _covers(deny, [resource])


def plan_policy(principal: Principal, routes: list[RouteRequirement]) -> tuple[list[str], list[str]]:
    """``(allow, deny)`` resource suffixes (``METHOD/path``) right for every route of ``routes``."""
    met = [r for r in routes if principal.meets(r.requirement)]
    unmet = [r for r in routes if not principal.meets(r.requirement)]
    if not unmet:
        return ["*/*"], []
    allow = [p for r in met for p in r.resource_patterns()]
    met_samples = [s for r in met for s in r.sample_resources()]
    deny: list[str] = []
    for route in unmet:
        samples = route.sample_resources()
        if not _covers(allow, samples):
            continue  # nothing allows it: denied implicitly
        patterns = route.resource_patterns()
        if not _covers(patterns, met_samples):
            deny.extend(patterns)  # its exact shape catches no permitted route
        else:
            # No exact Deny is possible: fail closed by dropping the allows that cover it.
            allow = [p for p in allow if not _covers([p], samples)]
    # Last check on every route: an unmet route must never be allowed (a met one may, rarely, be
    # denied by the fail-closed step above; tests keep API.md's route map free of that).
    bad = [s for r in unmet for s in r.sample_resources() if _verdict(allow, deny, s)]
    if bad:
        allow = [p for p in allow if not _covers([p], bad)]
    return allow, deny


def build_policy(principal: Principal, method_arn: str, routes: list[RouteRequirement]) -> dict[str, Any]:
    """The authorizer response: a policy right for every route of the API, and the context."""
    prefix = api_arn_prefix(method_arn)
    allow, deny = plan_policy(principal, routes)
    statements: list[dict[str, Any]] = []
    if allow:
        statements.append(
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{prefix}/{r}" for r in allow]}
        )
    if deny:
        statements.append(
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{prefix}/{r}" for r in deny]}
        )
    if not statements:
        statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{prefix}/*/*"]})
    return {
        "principalId": principal.user_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": principal.context(),
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
