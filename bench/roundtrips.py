"""DynamoDB round trips per flow, counted by a botocore event hook.

PynamoDB builds a botocore session and client per ``Connection`` (and ``Table.transaction()`` opens a
new ``Connection`` each time), so there is no single long-lived client to register on. Instead every
botocore client created for ``dynamodb`` gets a ``before-send.dynamodb`` handler as it is created
(:func:`install` wraps ``botocore.session.Session.create_client``). ``before-send`` fires once per HTTP
request, so a BatchGetItem or a TransactWriteItems counts as one, and a botocore retry counts again.
Only requests made by the measuring thread are counted (moto's server threads are not).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.session import Session as BotocoreSession

from bench import report
from bench.dynamo import Dynamo
from shared.schemas import RoleBody

T = TypeVar("T")

_recorders: list[Recorder] = []

# The sign-in center's flow: a page sign-in reads the name, reserves an attempt, clears it and writes the
# center session; an answer from the center session reads it with its user, the client, and stores the code;
# the exchange redeems the code, checks the center session, reads the user, writes the app session, and
# notes it on the code and on the center session; userinfo is the authorizer's read and the user item.
CENTER_TARGETS: dict[str, int | None] = {
    "sign-in page: password": 5,
    "authorize, signed in (single sign-on)": 4,
    "token, the app's very first (one-off: its default role)": None,
    "token (code exchange)": 7,
    "userinfo": 2,
}


@dataclass
class Recorder:
    """The DynamoDB requests (operation names) and new clients seen on one thread while active."""

    thread: int = field(default_factory=threading.get_ident)
    operations: list[str] = field(default_factory=list)
    clients: int = 0

    def __enter__(self) -> Recorder:
        _recorders.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        _recorders.remove(self)


def _on_send(event_name: str = "", **_: Any) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    for recorder in list(_recorders):
        if recorder.thread == threading.get_ident():
            recorder.operations.append(operation)


_installed: list[bool] = []


def install() -> None:
    """Hook every DynamoDB client botocore creates from now on (idempotent: once per process, whatever
    other hooks wrapped ``create_client`` since)."""
    if _installed:
        return
    _installed.append(True)
    original = BotocoreSession.create_client

    @functools.wraps(original)
    def create_client(self: BotocoreSession, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-send.dynamodb", _on_send)
            for recorder in list(_recorders):
                if recorder.thread == threading.get_ident():
                    recorder.clients += 1
        return client

    BotocoreSession.create_client = create_client  # type: ignore[method-assign]


@dataclass
class Measured:
    trips: int
    operations: list[str]
    clients: int
    seconds: float


def measure(action: Callable[[], T]) -> tuple[T, Measured]:
    with Recorder() as recorder:
        start = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - start
    return result, Measured(len(recorder.operations), recorder.operations, recorder.clients, elapsed)


def describe(operations: list[str]) -> str:
    """The requests in order, consecutive repeats of one operation folded into one entry with a count."""
    groups: list[list[Any]] = []
    for op in operations:
        if groups and groups[-1][0] == op:
            groups[-1][1] += 1
        else:
            groups.append([op, 1])
    return " + ".join(op if n == 1 else f"{op} ×{n}" for op, n in groups) or "-"


class RecordingSender:
    """Keeps the codes it is asked to send, so the bench can sign in with them."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.codes: list[str] = []

    def send_code(self, to: str, code: str, code_type: str) -> None:
        self.codes.append(code)


def role_edit_costs(services: Any) -> tuple[Measured, Measured]:
    """Round trips of editing a role held by 10 users, then by 1,000 (holders written directly)."""
    from shared.db.models import UserItem
    from shared.db.users import grant_item

    measured = []
    for holders in (10, 1000):
        code = f"desk{holders}"
        role = services.role_admin.create(
            RoleBody(**{"app_name": "app0", "role_code": code, "permissions": ["orders:view"]})
        )
        grant = services.apps.defs_of("app0").grants({code: role.epoch})[0]
        with UserItem.batch_write() as writer:
            for i in range(holders):
                user_id = f"holder{holders}x{i:05d}"
                writer.save(
                    UserItem(
                        pk=f"USER#{user_id}",
                        sk="PROFILE",
                        user_id=user_id,
                        created_at=0,
                        roles={"app0": {code: role.epoch}},
                    )
                )
                writer.save(grant_item(user_id, grant, 0))
        assert services.role_admin.holders(f"app0:{code}", limit=holders + 1).__len__() == holders
        _, cost = measure(
            lambda code=code: services.role_admin.update(
                f"app0:{code}", RoleBody(permissions=["orders:view", "orders:refund"])
            )
        )
        measured.append(cost)
    return measured[0], measured[1]


def center_costs(services: Any, client: Any) -> dict[str, Measured]:
    """Round trips of the sign-in center's flow, as its routes make them (issue 11): the password sign-in
    on its page, an authorization answered from the center session (single sign-on), the code exchange,
    and userinfo."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    from shared.center.protocol import EventRequest, Provider
    from shared.schemas import AppBody

    issuer, callback = "https://id.example.com", "https://shop.example.com/cb"
    services.apps.create(AppBody(app_name="shop", redirect_uris=[callback]))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": "shop",
        "redirect_uri": callback,
        "response_type": "code",
        "scope": "openid profile",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    jwks = services.tokens.keys.ring().jwks()
    costs: dict[str, Measured] = {}

    def sign_in() -> tuple[str, Any]:
        record, _ = services.accounts.verify_password("alice", "correct horse", "shop")
        return services.center.open(record, ["pwd"])  # type: ignore[no-any-return]

    (cookie, _), costs["sign-in page: password"] = measure(sign_in)

    def authorize() -> Any:
        session = services.center.signed_in(cookie, None, None)
        provider = Provider(services.center, services.sessions, issuer, jwks, cookie)
        request = EventRequest({"httpMethod": "GET", "queryStringParameters": query}, issuer, {}, client)
        grant = provider.get_consent_grant(request, end_user=session)
        return provider.create_authorization_response(request, grant_user=session, grant=grant)

    def token(answer: Any) -> Any:
        form = {
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(answer.location).query)["code"][0],
            "redirect_uri": callback,
            "client_id": "shop",
            "code_verifier": verifier,
        }
        provider = Provider(services.center, services.sessions, issuer, jwks)
        return provider.create_token_response(EventRequest({"httpMethod": "POST"}, issuer, form, client))

    first = authorize()
    _, costs["token, the app's very first (one-off: its default role)"] = measure(lambda: token(first))
    answer, costs["authorize, signed in (single sign-on)"] = measure(authorize)
    tokens, costs["token (code exchange)"] = measure(lambda: token(answer))
    access = tokens.body["access_token"]

    def userinfo() -> Any:
        _, session = services.sessions.verify(access)
        return services.accounts.item(session.user_id)

    _, costs["userinfo"] = measure(userinfo)
    return costs


def second_factor_costs(services: Any, client: Any) -> dict[str, Measured]:
    """Issue 13: a password sign-in of a TOTP user (both steps) and a passkey sign-in, software authenticator."""
    import pyotp

    from shared.errors import MfaRequired
    from shared.services.accounts import RegisterCommand
    from shared.services.passkeys import RelyingParty
    from tests.fakes.authenticator import SoftAuthenticator

    user = services.accounts.register(RegisterCommand(username="totp-user", password="correct horse"), client)
    setup = services.mfa.setup(user.user_id)
    generator = pyotp.TOTP(setup.secret)
    services.mfa.confirm(user.user_id, generator.at(time.time() - 30), client)

    def first_step() -> str:
        try:
            services.accounts.login("totp-user", "correct horse", None, client)
        except MfaRequired as due:
            return due.mfa_token
        raise AssertionError("no second step asked for")

    token, first = measure(first_step)
    _, verify = measure(lambda: services.mfa.verify(token, generator.now(), client))
    rp = RelyingParty("localhost", "bench", ("http://localhost:3000",))
    device = SoftAuthenticator("http://localhost:3000")
    options = services.passkeys.registration_options(user.user_id, rp)
    services.passkeys.register(user.user_id, device.create(options["publicKey"]), None, rp, client)

    def passkey() -> Any:
        login = services.passkeys.login_options(rp)
        return services.passkeys.sign_in(login["challenge_id"], device.get(login["publicKey"]), None, rp, client)

    _, by_passkey = measure(passkey)
    return {"first": first, "verify": verify, "passkey": by_passkey}


def run(dynamo: Dynamo) -> None:
    from buildtools.openapi import route_map
    from shared.authorizer import authorize, parse_requirements
    from shared.domain import ClientInfo
    from shared.services.accounts import RegisterCommand

    install()
    report.heading("1. DynamoDB round trips per flow (botocore before-send hook; moto, fresh table, bcrypt cost 4)")
    sms = RecordingSender("sms")
    services = dynamo.fresh_services(senders={"sms": sms, "email": RecordingSender("email")})
    client = ClientInfo(ip="203.0.113.7", user_agent="bench")
    accounts, sessions = services.accounts, services.sessions

    _, first_register = measure(
        lambda: accounts.register(
            RegisterCommand(username="alice", password="correct horse", email="alice@example.com"), client
        )
    )
    _, register = measure(
        lambda: accounts.register(
            RegisterCommand(username="bob", password="correct horse", email="bob@example.com"), client
        )
    )
    _, first_login = measure(lambda: accounts.login("alice", "correct horse", None, client))
    signed_in, repeat_login = measure(lambda: accounts.login("alice", "correct horse", None, client))
    pair, refresh = measure(lambda: sessions.refresh(signed_in.tokens.refresh_token))

    routes = parse_requirements(route_map())
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {pair.access_token}",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/api/auth/user/info",
    }
    policy, authorizer = measure(lambda: authorize(event, sessions, routes))

    def phone_login() -> Any:
        services.codes.send("sms", "13800138000", "login", "203.0.113.7")
        return measure(lambda: services.code_flows.phone_login("13800138000", sms.codes[-1], None, client))

    (created, phone_new) = phone_login()
    assert created.created
    services.codes.clock = lambda: time.time() + 61  # past the resend cooldown
    (again, phone_known) = phone_login()
    assert not again.created
    assert policy["principalId"] == pair.session.user_id

    edit_small, edit_large = role_edit_costs(services)
    center = center_costs(services, client)
    second = second_factor_costs(services, client)

    rows: list[list[str]] = []

    def row(flow: str, target: int | None, m: Measured, status: str | None = None) -> None:
        shown = status or (report.verdict(m.trips <= target) if target is not None else "")
        rows.append(
            [
                flow,
                str(m.trips),
                f"≤ {target}" if target is not None else "-",
                shown,
                describe(m.operations),
                str(m.clients),
                f"{m.seconds * 1000:.1f}",
            ]
        )

    row("authorizer call (valid token)", 1, authorizer)
    row("login, first (after sign-up)", 3, first_login)
    row("login, repeat", 3, repeat_login)
    row("refresh", 2, refresh)
    row("register into app0 (default role exists)", 2, register)
    row("register, very first of app0 (one-off)", None, first_register, "one-off")
    row("phone login, known phone", 3, phone_known)
    row("phone login, new phone (registers)", 3, phone_new)
    row("role edit, 10 holders", 4, edit_small)
    row("role edit, 1,000 holders", edit_small.trips, edit_large)
    row("login with TOTP on: first step (mfa_required)", 3, second["first"])
    row("login with TOTP on: second step (mfa/verify)", 4, second["verify"])
    row("passkey sign-in (options + verify)", 7, second["passkey"])
    for flow, measured in center.items():
        target = CENTER_TARGETS[flow]
        row(f"center: {flow}", target, measured, None if target is not None else "one-off")
    report.table(
        ["flow", "trips", "target", "status", "requests, in order", "clients built", "wall ms"],
        rows,
        "<><<<>>",
    )
    report.note(
        "the very first register also creates app0's default role (its item and the app's role definitions, "
        "one transaction); it happens once."
    )
    report.note(
        "race protection (docs/data-model.md, 'The user item'): the authorizer reads session, user item and role "
        "definitions in its one BatchGetItem; login reserves its attempt with the UpdateItem that also reads the "
        "user, and writes its session only if the user item's version is unchanged: no extra round trip."
    )
    report.note(
        "a role edit is one GetItem (the role) + one BatchGetItem (the app's role definitions) + one transaction, "
        "whatever the number of holders (target: the same figure for 10 and 1,000)."
    )
    report.note(
        "'clients built' = botocore DynamoDB clients built during the flow (all entities and transactions share "
        "one connection, so only a container's first request builds one); each costs wall time, not a round trip."
    )
    if not any(m.trips for m in (authorizer, first_login, refresh, register)):
        report.note("the hook saw no request at all: is DynamoDB still reached through botocore?")
