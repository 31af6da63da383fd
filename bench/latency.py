"""Authorizer warm latency: ``shared.authorizer.authorize`` per call, beside its parts.

Rows: a bare PyJWT ``jwt.decode`` of the same token with the same public key, the token service's full
check without DynamoDB, the session + user + role definitions BatchGetItem alone against the embedded
moto server, and the whole ``authorize`` call (token check + BatchGetItem + policy). All are warmed up,
then timed call by call: the two calls that reach moto round-robin (so that noise hits both alike), the
CPU-only ones each alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import report
from bench.dynamo import Dynamo


def sample(cases: list[tuple[str, Callable[[], Any]]], calls: int, warmup: int = 20) -> dict[str, list[float]]:
    """Time every case ``calls`` times, round-robin so that drift and noise hit all cases alike."""
    for _ in range(warmup):
        for _, action in cases:
            action()
    timings: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(calls):
        for label, action in cases:
            start = time.perf_counter()
            action()
            timings[label].append(time.perf_counter() - start)
    return timings


def sample_alone(cases: list[tuple[str, Callable[[], Any]]], calls: int) -> dict[str, list[float]]:
    """Time CPU-only cases one after another, each on its own: interleaved with calls to moto, they
    would share the interpreter with moto's server thread still finishing the previous answer."""
    timings: dict[str, list[float]] = {}
    for label, action in cases:
        time.sleep(0.05)  # let the server thread go idle
        timings.update(sample([(label, action)], calls))
    return timings


def run(dynamo: Dynamo, calls: int) -> None:
    import jwt

    from localdev.template import read_api
    from shared.authorizer import authorize, parse_requirements
    from shared.domain import ClientInfo
    from shared.services.accounts import RegisterCommand

    report.heading(f"3. Authorizer warm latency per call ({calls} calls each, moto server in this process)")
    services = dynamo.fresh_services()
    signed_up = services.accounts.register(
        RegisterCommand(username="carol", password="correct horse"), ClientInfo(ip="203.0.113.9")
    )
    token = signed_up.tokens.access_token
    session_id = signed_up.tokens.session.session_id
    user_id = signed_up.user_id
    key = services.tokens.keys.ring().active
    settings = services.settings
    routes = parse_requirements(read_api().functions["AuthorizerFunction"].environment.get("ROUTE_REQUIREMENTS"))
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/api/auth/user/info",
    }

    def bare_decode() -> Any:
        return jwt.decode(
            token, key.public_key, algorithms=[key.alg], audience=settings.jwt_audience, issuer=settings.jwt_issuer
        )

    local: list[tuple[str, Callable[[], Any]]] = [
        (f"bare PyJWT jwt.decode ({key.alg})", bare_decode),
        ("TokenService.verify_access (no DB)", lambda: services.tokens.verify_access(token)),
    ]
    remote: list[tuple[str, Callable[[], Any]]] = [
        (
            "session + user + role definitions BatchGetItem alone (moto)",
            lambda: services.sessions.sessions.state(session_id, user_id, "app0"),
        ),
        ("authorize() (token + BatchGetItem + policy)", lambda: authorize(event, services.sessions, routes)),
    ]
    results = {**sample_alone(local, calls), **sample(remote, calls)}
    whole = report.median(results[remote[-1][0]])
    rows = [
        [
            label,
            report.duration(report.median(values)),
            report.duration(report.percentile(values, 99)),
            f"{report.median(values) / whole:.0%}",
        ]
        for label, values in results.items()
    ]
    report.table(["call", "p50", "p99", "of authorize p50"], rows, "<>>>")
    report.note(
        "the BatchGetItem goes over loopback HTTP to moto, which parses and answers it in this process; DynamoDB "
        "itself answers one in single-digit ms. The token check is what the function itself costs."
    )
