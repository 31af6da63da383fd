"""The Lambda authorizer's logic (API.md section 8): requirement map, cache-correct policy, end to end."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from shared.authorizer import (
    Principal,
    RouteRequirement,
    Unauthorized,
    api_arn_prefix,
    authorize,
    bearer,
    build_policy,
    parse_requirements,
)
from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import ConfigurationError
from shared.services.accounts import SignedIn
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD

SignUp = Callable[..., SignedIn]

API = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev"

# A route map like the deploying stack writes (routes and requirements from API.md section 4 and 5)
ROUTE_MAP = {
    "GET /api/auth/user/info/": "user",
    "GET /api/users/": "perm:system:user:list",
    "GET /api/users/{user_id}/": "perm:system:user:query",
    "DELETE /api/users/{user_id}/delete/": "perm:system:user:remove",
    "POST /api/users/assign-roles/": "perm:system:user:role",
    "GET /api/roles/": "perm:system:role:list",
    "GET /api/roles/{role_id}/": "perm:system:role:query",
    "GET /api/roles/{role_id}/menus/": "perm:system:role:menu",
    "GET /api/menus/tree/": "perm:system:menu:list",
    "GET /api/menus/{menu_id}/": "perm:system:menu:query",
    "GET /api/roles/admin-data/": "role:admin",
}


def arn(method: str, path: str) -> str:
    return f"{API}/{method}{path}"


def principal(roles: tuple[str, ...] = ("l0",), permissions: tuple[str, ...] = ()) -> Principal:
    return Principal("user-1", "sess-1", "app0", roles, permissions)


def wildcard_param(segment: str) -> str:
    """A path-parameter segment is a wildcard: ``*`` or ``?*`` (one character or more) both qualify."""
    return "*" if segment in ("*", "?*") else segment


def canonical(resource: str) -> str:
    """A resource with every parameter wildcard written ``*``, to compare patterns by shape."""
    return "/".join(wildcard_param(segment) for segment in resource.split("/"))


def denied_resources(policy: dict[str, Any]) -> set[str]:
    """The Deny resources of a policy, parameter wildcards written ``*``."""
    return {
        canonical(resource)
        for statement in policy["policyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        for resource in statement["Resource"]
    }


# -- a tiny IAM evaluator (enough of API Gateway's policy evaluation for these tests) ----------------


def _glob(pattern: str) -> re.Pattern[str]:
    """IAM resource matching: ``*`` is any run of characters (slashes too, or none), ``?`` one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def iam_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """An explicit Deny wins; otherwise an Allow is needed; nothing matching means deny."""

    def matches(statement: dict[str, Any]) -> bool:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        return any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions) and any(
            _glob(r).fullmatch(method_arn) for r in resources
        )

    statements = policy["policyDocument"]["Statement"]
    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


def test_the_evaluator_itself_follows_iam_rules():
    allow_all = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [f"{API}/*/*"]}
    deny_one = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [f"{API}/GET/a/*"]}
    assert iam_allows({"policyDocument": {"Statement": [allow_all]}}, arn("GET", "/a/b/c"))
    assert not iam_allows({"policyDocument": {"Statement": [allow_all, deny_one]}}, arn("GET", "/a/b/c"))
    assert not iam_allows({"policyDocument": {"Statement": [allow_all, deny_one]}}, arn("GET", "/a/"))
    assert iam_allows({"policyDocument": {"Statement": [allow_all, deny_one]}}, arn("GET", "/a"))
    assert iam_allows({"policyDocument": {"Statement": [allow_all, deny_one]}}, arn("POST", "/a/b"))
    assert not iam_allows({"policyDocument": {"Statement": []}}, arn("GET", "/a"))


# -- requirement map ------------------------------------------------------------------------------


def test_parse_requirements_reads_the_route_map():
    routes = parse_requirements('{"get /api/users/{user_id}/": "perm:system:user:query", "POST api/x": "role:admin"}')
    assert routes == [
        RouteRequirement("GET", "/api/users/{user_id}", "perm:system:user:query"),
        RouteRequirement("POST", "/api/x", "role:admin"),
    ]
    assert parse_requirements(ROUTE_MAP) == parse_requirements(__import__("json").dumps(ROUTE_MAP))


@pytest.mark.parametrize("empty", [None, "", {}])
def test_no_route_map_means_no_requirements(empty):
    assert parse_requirements(empty) == []


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '["GET /x"]',
        '{"GET/x": "user"}',
        '{"GET /x": 5}',
        '{"GET /x": null}',
        '{"GET /x": "admin"}',
        '{"GET /x": "group:admin"}',
        '{"GET /x": "permission:system:user:list"}',
        '{"GET /x": ""}',
    ],
)
def test_malformed_route_maps_are_configuration_errors(raw: str):
    with pytest.raises(ConfigurationError):
        parse_requirements(raw)


def test_resource_patterns_cover_both_slash_forms_with_params_as_wildcards():
    route = RouteRequirement("DELETE", "/api/users/{user_id}/delete", "perm:system:user:remove")
    patterns = route.resource_patterns()
    assert [canonical(p) for p in patterns] == ["DELETE/api/users/*/delete", "DELETE/api/users/*/delete/"]
    # the parameter wildcard matches any id, but never an empty segment
    policy = {
        "policyDocument": {
            "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [f"{API}/{p}" for p in patterns]}
            ]
        }
    }
    assert iam_allows(policy, arn("DELETE", "/api/users/42/delete"))
    assert iam_allows(policy, arn("DELETE", "/api/users/a-b_c/delete/"))
    assert not iam_allows(policy, arn("DELETE", "/api/users//delete"))
    assert not iam_allows(policy, arn("GET", "/api/users/42/delete"))


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("user", True),
        ("role:l0", True),
        ("role:admin", False),
        ("perm:system:user:list", True),
        ("perm:system:user:remove", False),
        ("group:l0", False),
        ("l0", False),
    ],
)
def test_principal_meets(requirement: str, expected: bool):
    assert principal(("l0",), ("system:user:list",)).meets(requirement) is expected


# -- policy ---------------------------------------------------------------------------------------


FULL_MAP = {
    **ROUTE_MAP,
    "GET /api/auth/sessions/": "user",
    "POST /api/auth/logout/": "user",
    "DELETE /api/auth/sessions/{session_id}/": "user",
    "POST /api/users/create/": "perm:system:user:add",
    "PUT /api/users/{user_id}/update/": "perm:system:user:edit",
    "POST /api/roles/create/": "perm:system:role:add",
    "PUT /api/roles/{role_id}/update/": "perm:system:role:edit",
    "DELETE /api/roles/{role_id}/delete/": "perm:system:role:remove",
    "POST /api/roles/assign-menus/": "perm:system:role:menu",
    "GET /api/menus/": "perm:system:menu:list",
    "POST /api/menus/create/": "perm:system:menu:add",
    "PUT /api/menus/{menu_id}/update/": "perm:system:menu:edit",
    "DELETE /api/menus/{menu_id}/delete/": "perm:system:menu:remove",
    "GET /api/departments/": "perm:system:dept:list",
    "GET /api/departments/tree/": "perm:system:dept:list",
    "POST /api/departments/create/": "perm:system:dept:add",
    "GET /api/departments/{dept_id}/": "perm:system:dept:query",
    "PUT /api/departments/{dept_id}/update/": "perm:system:dept:edit",
    "DELETE /api/departments/{dept_id}/delete/": "perm:system:dept:remove",
    "GET /api/apps/": "perm:system:app:manage",
    "POST /api/apps/create/": "perm:system:app:manage",
    "PUT /api/apps/{app_name}/update/": "perm:system:app:manage",
    "POST /api/roles/role-auth/": "user",
    "POST /api/roles/assign-role/": "perm:system:user:role",
}
ALL_PERMISSIONS = sorted({r.partition(":")[2] for r in FULL_MAP.values() if r.startswith("perm:")})


def concrete_paths(route: RouteRequirement) -> list[str]:
    """Real-looking paths of a route (ids unlike the authorizer's own sample), in both spellings."""
    paths = []
    for value in ("42", "a-b_c", "9f8e7d"):
        path = re.sub(r"\{[^}]+\}", value, route.path)
        paths += [path, path + "/"]
    return paths


PRINCIPALS = [
    principal(),
    principal(("l0", "admin")),
    principal(permissions=tuple(ALL_PERMISSIONS)),
    principal(("admin",), tuple(ALL_PERMISSIONS)),
    *[principal(permissions=(p,)) for p in ALL_PERMISSIONS],
    *[principal(permissions=tuple(q for q in ALL_PERMISSIONS if q != p)) for p in ALL_PERMISSIONS],
]


@pytest.mark.parametrize(
    "who", PRINCIPALS, ids=lambda p: f"{','.join(p.roles)}|{len(p.permissions)}:{','.join(p.permissions)[:40]}"
)
def test_one_cached_policy_is_right_for_every_route_of_the_api(who: Principal):
    # Given the API's full route map and the policy returned on one call (which API Gateway caches)
    routes = parse_requirements(FULL_MAP)
    policy = build_policy(who, arn("GET", "/api/auth/user/info/"), routes)
    # When that policy is evaluated for every route, with real ids and both slash spellings
    wrong = [
        (route.method, path)
        for route in routes
        for path in concrete_paths(route)
        if iam_allows(policy, arn(route.method, path)) != who.meets(route.requirement)
    ]
    # Then every route gets exactly the verdict its requirement gives
    assert wrong == []
    # And routes outside the map are denied, unless the principal may call every route (then the policy
    # is one Allow for the API; the map is generated from template.yaml, so it lists every protected route)
    may_call_all = all(who.meets(r.requirement) for r in routes)
    assert iam_allows(policy, arn("GET", "/api/not-in-the-map")) is may_call_all
    # And other stages and other APIs are never allowed
    assert not iam_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/api/auth/user/info/")
    assert not iam_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:other/dev/GET/api/auth/user/info/")


def test_principal_meeting_every_route_gets_one_allow_for_the_api():
    routes = parse_requirements(FULL_MAP)
    policy = build_policy(principal(("admin", "l0"), tuple(ALL_PERMISSIONS)), arn("GET", "/api/users/"), routes)
    assert policy["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{API}/*/*"]}
    ]


def test_plain_user_policy_lists_only_user_routes_and_stays_small():
    routes = parse_requirements(FULL_MAP)
    policy = build_policy(principal(), arn("GET", "/api/auth/user/info/"), routes)
    allowed = [r for s in policy["policyDocument"]["Statement"] if s["Effect"] == "Allow" for r in s["Resource"]]
    user_routes = [r for r in routes if r.requirement == "user"]
    assert len(allowed) == 2 * len(user_routes)
    assert len(__import__("json").dumps(policy)) < 4096


def test_holding_a_permission_allows_exactly_its_routes_more():
    routes = parse_requirements(FULL_MAP)
    before = build_policy(principal(), arn("GET", "/x"), routes)
    after = build_policy(principal(permissions=("system:user:remove",)), arn("GET", "/x"), routes)
    newly = [
        (route.method, path)
        for route in routes
        for path in concrete_paths(route)
        if iam_allows(after, arn(route.method, path)) and not iam_allows(before, arn(route.method, path))
    ]
    assert {m for m, _ in newly} == {"DELETE"} and all(p.startswith("/api/users/") for _, p in newly)
    assert len(newly) == len(concrete_paths(RouteRequirement("DELETE", "/api/users/{id}/delete", "")))


def test_no_route_met_means_a_deny_everything_policy():
    routes = parse_requirements({"GET /api/x/": "role:admin"})
    policy = build_policy(principal(), arn("GET", "/api/x"), routes)
    assert not iam_allows(policy, arn("GET", "/api/x"))
    assert [s["Effect"] for s in policy["policyDocument"]["Statement"]] == ["Deny"]


def test_policy_context_carries_the_principal():
    user = Principal("u-9", "s-9", "crm", ("l0", "editor"), ("a:b", "c:d"))
    policy = build_policy(user, arn("GET", "/api/x"), [])
    assert policy["principalId"] == "u-9"
    assert policy["context"] == {
        "user_id": "u-9",
        "session_id": "s-9",
        "app_name": "crm",
        "roles": "l0,editor",
        "permissions": "a:b,c:d",
    }
    # API Gateway only accepts string, number or boolean context values
    assert all(isinstance(v, str | int | bool) for v in policy["context"].values())


def test_policy_cached_for_route_a_denies_forbidden_route_b():
    # Given a plain user, and the policy the authorizer returned on their call to route A
    routes = parse_requirements(ROUTE_MAP)
    policy = build_policy(principal(), arn("GET", "/api/auth/user/info/"), routes)

    # When API Gateway reuses that cached policy for other routes
    # Then route A is allowed
    assert iam_allows(policy, arn("GET", "/api/auth/user/info/"))
    assert iam_allows(policy, arn("GET", "/api/auth/user/info"))
    # And route B, which needs a permission the user lacks, is denied in every spelling
    assert not iam_allows(policy, arn("DELETE", "/api/users/42/delete/"))
    assert not iam_allows(policy, arn("DELETE", "/api/users/42/delete"))
    assert not iam_allows(policy, arn("GET", "/api/users/42/"))
    assert not iam_allows(policy, arn("GET", "/api/roles/admin-data"))
    # And other stages or APIs are not covered at all
    assert not iam_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/api/auth/user/info/")


@pytest.mark.parametrize(
    ("permission", "method", "path"),
    [
        ("system:user:list", "GET", "/api/users/"),
        ("system:role:list", "GET", "/api/roles/"),
        ("system:role:menu", "GET", "/api/roles/r1/menus/"),
        ("system:menu:list", "GET", "/api/menus/tree/"),
    ],
)
def test_policy_allows_a_route_whose_requirement_is_met_even_beside_a_forbidden_sibling(
    permission: str, method: str, path: str
):
    # Given a principal holding the permission of this route but not that of its {param} sibling route
    # (e.g. system:user:list without system:user:query)
    routes = parse_requirements(ROUTE_MAP)
    policy = build_policy(principal(permissions=(permission,)), arn(method, path), routes)

    # When / Then the route it may call is allowed, in its canonical trailing-slash spelling too
    assert iam_allows(policy, arn(method, path.rstrip("/")))
    assert iam_allows(policy, arn(method, path))


def test_api_arn_prefix():
    assert api_arn_prefix(arn("GET", "/api/users/1/")) == API


@pytest.mark.parametrize("bad", ["", "nonsense", "arn:aws:execute-api:us-east-1:1:api", "notarn/dev/GET/x"])
def test_malformed_method_arn_is_unauthorized(bad: str):
    with pytest.raises(Unauthorized):
        api_arn_prefix(bad)


# -- bearer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), (" Bearer abc", "abc")],
)
def test_bearer_extracts_the_token(header: str, token: str):
    assert bearer(header) == token


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "abc.def.ghi", "Token abc"]
)
def test_bearer_refuses_missing_or_malformed_headers(header: str | None):
    with pytest.raises(Unauthorized) as caught:
        bearer(header)
    assert str(caught.value) == "Unauthorized"


def test_bearer_refuses_oversized_tokens():
    with pytest.raises(Unauthorized):
        bearer("Bearer " + "x" * 5000)


# -- authorize() end to end -------------------------------------------------------------------------


def event(token: str, method: str = "GET", path: str = "/api/auth/user/info/") -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": arn(method, path)}


@pytest.fixture
def routes() -> list[RouteRequirement]:
    return parse_requirements(ROUTE_MAP)


def test_authorize_valid_token(services: Services, sign_up: SignUp, routes):
    # Given a signed-up user
    alice = sign_up("alice")

    # When the authorizer sees her token
    policy = authorize(event(alice.tokens.access_token), services.sessions, routes)

    # Then the context carries her identity and authorization in app0
    assert policy["principalId"] == alice.user_id
    assert policy["context"] == {
        "user_id": alice.user_id,
        "session_id": alice.tokens.session.session_id,
        "app_name": "app0",
        "roles": "l0",
        "permissions": "",
    }
    assert iam_allows(policy, arn("GET", "/api/auth/user/info/"))
    assert not iam_allows(policy, arn("GET", "/api/users/"))


def test_authorize_admin_gets_the_admin_routes(services: Services, sign_up: SignUp, routes, clock: FakeClock):
    # Given a user who becomes app0's super admin and signs in again
    user_id = sign_up("root").user_id
    services.roles.assign(user_id, "app0", "admin")
    signed_in = services.accounts.login("root", PASSWORD, None, ClientInfo())

    # When the authorizer sees the new token
    policy = authorize(event(signed_in.tokens.access_token), services.sessions, routes)

    # Then every route is allowed and the context lists the permissions
    assert denied_resources(policy) == set()
    assert "system:user:remove" in policy["context"]["permissions"].split(",")
    assert set(policy["context"]["roles"].split(",")) == {"admin", "l0"}
    assert iam_allows(policy, arn("DELETE", "/api/users/42/delete/"))


def test_authorize_revoked_session_is_unauthorized(services: Services, sign_up: SignUp, routes):
    alice = sign_up("alice")
    services.sessions.revoke(alice.user_id, alice.tokens.session.session_id)
    with pytest.raises(Unauthorized):
        authorize(event(alice.tokens.access_token), services.sessions, routes)


def test_authorize_expired_token_is_unauthorized(services: Services, sign_up: SignUp, routes, clock: FakeClock):
    alice = sign_up("alice")
    clock.advance(services.settings.access_token_ttl)
    with pytest.raises(Unauthorized):
        authorize(event(alice.tokens.access_token), services.sessions, routes)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_authorize_garbage_is_unauthorized(services: Services, routes, token: str):
    with pytest.raises(Unauthorized):
        authorize(event(token), services.sessions, routes)


def test_authorize_without_header_is_unauthorized(services: Services, routes):
    with pytest.raises(Unauthorized):
        authorize({"type": "TOKEN", "methodArn": arn("GET", "/x")}, services.sessions, routes)


def test_authorize_refresh_token_as_bearer_is_unauthorized(services: Services, sign_up: SignUp, routes):
    alice = sign_up("alice")
    with pytest.raises(Unauthorized):
        authorize(event(alice.tokens.refresh_token), services.sessions, routes)
