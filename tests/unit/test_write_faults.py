"""A fault at any write of any write path leaves nothing half written, and a retry succeeds once (issue 10).

Each flow runs once to count its write requests (PutItem, UpdateItem, DeleteItem, TransactWriteItems,
BatchWriteItem). Then, for every n, it runs again on fresh data with:

* ``throttle``: the n-th write and every later one throttled (botocore retries, then gives up);
* ``timeout``: the same with read timeouts before the request reaches DynamoDB;
* ``cancel``: transactions from the n-th write on cancelled with ``TransactionConflict`` (a concurrent
  transaction on one of its items);
* ``lost``: the n-th write commits but its answer is lost (botocore sends it again).

The caller must get the flow's result or a database/upstream error (503), never a wrong answer such as
409 or 429; the table must keep every invariant of ``tests/unit/invariants.py``; and the same call,
retried once the faults stop, must succeed without duplicating anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pynamodb.exceptions import PynamoDBException

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import ServiceUnavailableError, UpstreamUnavailableError
from shared.providers.aliyun import AliyunSmsSender
from shared.providers.aws import SesSender
from shared.schemas import AdminUserCreateBody, AdminUserUpdateBody, AppBody, RoleBody
from shared.services.accounts import RegisterCommand
from tests.fakes.dynamo_faults import DynamoFaults
from tests.fakes.dysms import KEY_ID, SECRET, fake_dysms
from tests.fakes.wechat import FakeWechat, fake_wechat
from tests.unit import invariants
from tests.unit.helpers import PASSWORD, FakeSender, hook_dynamodb_clients

CLIENT = ClientInfo(ip="203.0.113.9", user_agent="faults")
SECRETS = {"wxweb": "web-secret", "wxmini": "mini-secret"}
UNAVAILABLE = (PynamoDBException, ServiceUnavailableError, UpstreamUnavailableError)
Context = dict[str, Any]


@dataclass(frozen=True)
class Flow:
    """A write path: ``setup`` (faults off) prepares what ``act`` needs; ``expect`` checks the result of a
    successful ``act`` against the table (``scan``)."""

    setup: Callable[[Services, Context], None]
    act: Callable[[Services, Context], Any]
    expect: Callable[[Services, Context, Any, list[dict[str, Any]]], None]


@dataclass
class Rig:
    services: Services
    faults: DynamoFaults
    senders: dict[str, FakeSender]
    scan: Callable[[], list[dict[str, Any]]]


@pytest.fixture
def wechat() -> Iterator[FakeWechat]:
    with fake_wechat(SECRETS) as server:
        yield server


@pytest.fixture
def rig(make_services: Callable[..., Services], wechat: FakeWechat, monkeypatch: pytest.MonkeyPatch, scan_table) -> Rig:
    senders = {"sms": FakeSender("sms"), "email": FakeSender("email")}
    services = make_services(
        senders=senders, wechat_api_base=wechat.url, wechat_timeout=1.0, wechat_secrets=json.dumps(SECRETS)
    )
    services.apps.update("app0", AppBody(wechat={"web_app_id": "wxweb", "miniapp_app_id": "wxmini"}))
    services.accounts.register(RegisterCommand(username="first", password=PASSWORD), CLIENT)  # app0's roles exist
    faults = DynamoFaults()
    hook_dynamodb_clients(monkeypatch, services, "before-send.dynamodb", faults.before_send)
    return Rig(services, faults, senders, scan_table)


# -- the write paths ---------------------------------------------------------------------------------


def phone_of(ctx: Context) -> str:
    return f"1390000{ctx['n']:04d}"


def users_named(scan: list[dict[str, Any]], field: str, value: str) -> list[dict[str, Any]]:
    return [i for i in scan if str(i["PK"]).startswith("USER#") and i["SK"] == "PROFILE" and i.get(field) == value]


def sessions_of(scan: list[dict[str, Any]], user_id: str) -> list[dict[str, Any]]:
    return [i for i in scan if str(i["PK"]).startswith("SESSION#") and i["user_id"] == user_id]


def register(s: Services, ctx: Context, name: str | None = None) -> str:
    name = name or f"u{ctx['n']}"
    signed_up = s.accounts.register(RegisterCommand(username=name, password=PASSWORD), CLIENT)
    ctx.setdefault("user_id", signed_up.user_id)
    ctx.setdefault("refresh", signed_up.tokens.refresh_token)
    return signed_up.user_id


def send_login_code(s: Services, ctx: Context, senders: dict[str, FakeSender]) -> None:
    s.codes.send("sms", phone_of(ctx), "login", f"198.51.100.{ctx['n'] % 250}")
    ctx["code"] = senders["sms"].last()


def expect_sign_up(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    [user] = users_named(scan, "username", f"u{ctx['n']}")
    assert result.created and result.user_id == user["user_id"]
    assert user["email"] == f"u{ctx['n']}@example.com" and len(sessions_of(scan, result.user_id)) == 1


def expect_session(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    user_id, session = s.sessions.verify(result.tokens.access_token)
    assert user_id.user_id == ctx["user_id"] and session.session_id == result.tokens.session.session_id


def expect_refreshed(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    assert s.sessions.verify(result.access_token)[0].user_id == ctx["user_id"]
    assert len(sessions_of(scan, ctx["user_id"])) == 1


def expect_code_sent(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    phone = "+86" + phone_of(ctx)
    assert result["phone"] == phone
    codes = [i for i in scan if i["PK"] == f"CODE#login#{phone}"]
    cooldowns = [i for i in scan if i["PK"] == f"COOLDOWN#sms#{phone}"]
    assert len(codes) == 1 and [c["code_hash"] for c in cooldowns] == [codes[0]["code_hash"]]


def expect_phone_user(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    [user] = users_named(scan, "phone", "+86" + phone_of(ctx))
    assert result.user_id == user["user_id"] and user.get("phone_verified") is True
    assert not [i for i in scan if i["PK"] == f"CODE#login#+86{phone_of(ctx)}"]  # the code was used
    assert s.sessions.verify(result.tokens.access_token)[0].user_id == user["user_id"]


def expect_password(password: str) -> Callable[[Services, Context, Any, list[dict[str, Any]]], None]:
    def expect(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
        assert s.accounts.login(f"u{ctx['n']}", password, None, CLIENT).user_id == ctx["user_id"]
        assert len([i for i in sessions_of(scan, ctx["user_id"]) if i.get("rev") == scan_user(scan, ctx)["rev"]]) == 0

    return expect


def expect_phone(verified: bool) -> Callable[[Services, Context, Any, list[dict[str, Any]]], None]:
    def expect(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
        user = scan_user(scan, ctx)
        assert (user["phone"], user.get("phone_verified")) == ("+86" + phone_of(ctx), verified)

    return expect


def expect_email_proven(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    user = scan_user(scan, ctx)
    assert (user["email"], user.get("email_verified")) == (f"new{ctx['n']}@example.com", True)


def scan_user(scan: list[dict[str, Any]], ctx: Context) -> dict[str, Any]:
    [user] = [i for i in scan if i["PK"] == f"USER#{ctx['user_id']}" and i["SK"] == "PROFILE"]
    return user


def expect_wechat_user(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    [user] = users_named(scan, "union_id", f"union-p{ctx['n']}")
    assert result.user_id == user["user_id"]
    apps = sorted(a["app_id"] for a in json.loads(user["accounts"]) if a["provider"] == "wechat")
    assert apps == ctx.get("wechat_apps", ["wxmini"])


def expect_grants(held: list[str]) -> Callable[[Services, Context, Any, list[dict[str, Any]]], None]:
    def expect(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
        record = s.accounts.get(ctx["user_id"])
        assert sorted(g.role_code for g in record.grants_in("app0")) == sorted(held)

    return expect


def expect_role(permissions: list[str]) -> Callable[[Services, Context, Any, list[dict[str, Any]]], None]:
    def expect(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
        assert s.role_admin.get(f"app0:r{ctx['n']}").permissions == permissions

    return expect


def expect_no_role(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    assert not [i for i in scan if i["PK"] == "APP#app0" and i["SK"] == f"ROLE#r{ctx['n']}"]


def expect_admin_update(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    user = s.accounts.get(ctx["user_id"]).user
    assert (user.nickname, user.email, user.phone, user.status) == (
        f"nick{ctx['n']}",
        f"new{ctx['n']}@example.com",
        "+86" + phone_of(ctx),
        "disabled",
    )
    assert s.accounts.sessions_of(ctx["user_id"]) == []


def expect_admin_created(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    [user] = users_named(scan, "username", f"made{ctx['n']}")
    assert result.user.user_id == user["user_id"] and user.get("department_id") is None


def expect_deleted(s: Services, ctx: Context, result: Any, scan: list[dict[str, Any]]) -> None:
    assert not [i for i in scan if i["PK"] == f"USER#{ctx['user_id']}"]
    assert not sessions_of(scan, ctx["user_id"])


def nothing(s: Services, ctx: Context) -> None:
    return None


def flows(senders: dict[str, FakeSender]) -> dict[str, Flow]:
    def create_role(s: Services, ctx: Context) -> None:
        s.role_admin.create(RoleBody(app_name="app0", role_code=f"r{ctx['n']}", permissions=["a:read"]))

    def with_role_holder(s: Services, ctx: Context) -> None:
        register(s, ctx)
        create_role(s, ctx)
        s.roles.assign(ctx["user_id"], "app0", f"r{ctx['n']}")

    def user_and_role(s: Services, ctx: Context) -> None:
        register(s, ctx)
        create_role(s, ctx)

    def known_phone(s: Services, ctx: Context) -> None:
        send_login_code(s, ctx, senders)
        ctx["user_id"] = s.code_flows.phone_login(phone_of(ctx), ctx["code"], None, CLIENT).user_id
        s.clock.advance(61)  # type: ignore[attr-defined]  # the resend cooldown
        send_login_code(s, ctx, senders)

    def user_with_reset_code(s: Services, ctx: Context) -> None:
        s.accounts.register(RegisterCommand(username=f"u{ctx['n']}", password=PASSWORD, phone=phone_of(ctx)), CLIENT)
        ctx["user_id"] = s.accounts.login(f"u{ctx['n']}", PASSWORD, None, CLIENT).user_id
        s.codes.send("sms", phone_of(ctx), "reset_password", "198.51.100.2")
        ctx["code"] = senders["sms"].last()

    def user_with_change_code(s: Services, ctx: Context) -> None:
        register(s, ctx)
        s.codes.send("sms", phone_of(ctx), "change_phone", "198.51.100.3")
        ctx["code"] = senders["sms"].last()

    def user_with_bind_code(s: Services, ctx: Context) -> None:
        register(s, ctx)
        s.codes.send("email", f"new{ctx['n']}@example.com", "bind", "198.51.100.4")
        ctx["code"] = senders["email"].last()

    def register_code(s: Services, ctx: Context) -> None:
        if s.apps.apps.get_app("proven") is None:
            s.apps.create(AppBody(app_name="proven", require_phone_verification=True))
        s.codes.send("sms", phone_of(ctx), "register", "198.51.100.5")
        ctx["code"] = senders["sms"].last()

    def register_with_code(s: Services, ctx: Context) -> Any:
        sign_up = RegisterCommand(
            username=f"u{ctx['n']}", password=PASSWORD, phone=phone_of(ctx), sms_code=ctx["code"], app_name="proven"
        )
        return s.accounts.register(sign_up, CLIENT)

    def wechat_first(s: Services, ctx: Context) -> None:
        ctx["wechat_apps"] = ["wxmini", "wxweb"]
        s.wechat.sign_in(None, "miniapp", f"p{ctx['n']}", CLIENT)
        ctx["user_id"] = s.wechat.sign_in(None, "miniapp", f"p{ctx['n']}", CLIENT).user_id

    return {
        "sign-up": Flow(
            nothing,
            lambda s, ctx: s.accounts.register(
                RegisterCommand(username=f"u{ctx['n']}", password=PASSWORD, email=f"u{ctx['n']}@example.com"), CLIENT
            ),
            expect_sign_up,
        ),
        "sign-in": Flow(
            register, lambda s, ctx: s.accounts.login(f"u{ctx['n']}", PASSWORD, None, CLIENT), expect_session
        ),
        "refresh": Flow(register, lambda s, ctx: s.sessions.refresh(ctx["refresh"]), expect_refreshed),
        "code-send": Flow(
            nothing, lambda s, ctx: s.codes.send("sms", phone_of(ctx), "login", "198.51.100.1"), expect_code_sent
        ),
        "phone-sign-up": Flow(
            lambda s, ctx: send_login_code(s, ctx, senders),
            lambda s, ctx: s.code_flows.phone_login(phone_of(ctx), ctx["code"], None, CLIENT),
            expect_phone_user,
        ),
        "phone-sign-in": Flow(
            known_phone,
            lambda s, ctx: s.code_flows.phone_login(phone_of(ctx), ctx["code"], None, CLIENT),
            expect_phone_user,
        ),
        "sign-up-with-code": Flow(
            register_code,
            register_with_code,
            lambda s, ctx, result, scan: expect_phone(True)(s, {**ctx, "user_id": result.user_id}, result, scan),
        ),
        "email-change-by-code": Flow(
            user_with_bind_code,
            lambda s, ctx: s.accounts.update_profile(
                ctx["user_id"], "app0", {"email": f"new{ctx['n']}@example.com", "email_code": ctx["code"]}
            ),
            expect_email_proven,
        ),
        "password-reset-by-code": Flow(
            user_with_reset_code,
            lambda s, ctx: s.code_flows.reset_password("sms", phone_of(ctx), ctx["code"], "reset-secret-1", None),
            expect_password("reset-secret-1"),
        ),
        "phone-change-by-code": Flow(
            user_with_change_code,
            lambda s, ctx: s.code_flows.change_phone(ctx["user_id"], "app0", phone_of(ctx), ctx["code"]),
            expect_phone(verified=True),
        ),
        "wechat-first-sign-in": Flow(
            nothing, lambda s, ctx: s.wechat.sign_in(None, "miniapp", f"p{ctx['n']}", CLIENT), expect_wechat_user
        ),
        "wechat-join-by-unionid": Flow(
            wechat_first, lambda s, ctx: s.wechat.sign_in(None, "web", f"p{ctx['n']}", CLIENT), expect_wechat_user
        ),
        "role-assign": Flow(
            user_and_role,
            lambda s, ctx: s.roles.assign(ctx["user_id"], "app0", f"r{ctx['n']}"),
            lambda s, ctx, r, scan: expect_grants(["l0", f"r{ctx['n']}"])(s, ctx, r, scan),
        ),
        "role-remove": Flow(
            with_role_holder,
            lambda s, ctx: s.roles.remove(ctx["user_id"], "app0", [f"r{ctx['n']}"]),
            expect_grants(["l0"]),
        ),
        "role-replace": Flow(
            with_role_holder,
            lambda s, ctx: s.roles.replace(ctx["user_id"], "app0", [f"r{ctx['n']}"]),
            lambda s, ctx, r, scan: expect_grants([f"r{ctx['n']}"])(s, ctx, r, scan),
        ),
        "role-create": Flow(nothing, create_role, expect_role(["a:read"])),
        "role-edit": Flow(
            with_role_holder,
            lambda s, ctx: s.role_admin.update(f"app0:r{ctx['n']}", RoleBody(permissions=["a:read", "a:write"])),
            expect_role(["a:read", "a:write"]),
        ),
        "role-delete": Flow(
            with_role_holder, lambda s, ctx: s.role_admin.delete(f"app0:r{ctx['n']}", True), expect_no_role
        ),
        "admin-create": Flow(
            nothing,
            lambda s, ctx: s.user_admin.create(
                "app0", AdminUserCreateBody(username=f"made{ctx['n']}", password=PASSWORD, nickname="made")
            ),
            expect_admin_created,
        ),
        "admin-update": Flow(
            register,
            lambda s, ctx: s.user_admin.update(
                ctx["user_id"],
                "app0",
                AdminUserUpdateBody(
                    nickname=f"nick{ctx['n']}",
                    email=f"new{ctx['n']}@example.com",
                    phone=phone_of(ctx),
                    status="disabled",
                    password="another-secret-1",
                ),
            ),
            expect_admin_update,
        ),
        "admin-delete": Flow(register, lambda s, ctx: s.user_admin.delete(ctx["user_id"]), expect_deleted),
    }


FLOWS = sorted(flows({}))


# -- the matrix --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["throttle", "timeout", "cancel", "lost"])
@pytest.mark.parametrize("name", FLOWS)
def test_a_fault_at_any_write_leaves_nothing_half_written_and_a_retry_succeeds(rig: Rig, name: str, fault: str):
    flow = flows(rig.senders)[name]
    s = rig.services

    # Given the number of writes the flow makes when nothing fails
    ctx: Context = {"n": 0}
    flow.setup(s, ctx)
    rig.faults.count_writes()
    flow.expect(s, ctx, flow.act(s, ctx), rig.scan())
    writes = rig.faults.writes
    assert writes >= 1

    for n in range(1, writes + 1):
        # When the n-th write (and, but for "lost", every later one) meets the fault
        ctx = {"n": n}
        flow.setup(s, ctx)
        rig.faults.fail_writes_from(n, fault)
        try:
            result, error = flow.act(s, ctx), None
        except UNAVAILABLE as exc:
            result, error = None, exc
        rig.faults.clear()

        # Then the table keeps every invariant, whatever was committed
        scan = rig.scan()
        assert invariants.broken(scan) == [], (name, fault, n, error)
        # And a call that answered 503 succeeds when retried; one that succeeded did its work once
        if error is not None:
            result = flow.act(s, ctx)
            scan = rig.scan()
            assert invariants.broken(scan) == [], (name, fault, n, "after the retry")
        flow.expect(s, ctx, result, scan)


# -- provider faults ---------------------------------------------------------------------------------


def code_items(scan: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Codes, cooldowns and counted sends: what a send that did not happen must not leave."""
    return [
        (i["PK"], i.get("hits"))
        for i in scan
        if str(i["PK"]).startswith(("CODE#", "COOLDOWN#")) or (str(i["PK"]).startswith("RATE#") and i.get("hits"))
    ]


@pytest.mark.parametrize("mode", ["down", "slow", "limit"])
def test_an_sms_provider_failure_is_503_and_keeps_nothing(make_services, scan_table, mode: str):
    # Given Aliyun SMS answering 503 (a gateway page), too slowly, or with its rate-limit refusal
    with fake_dysms() as dysms:
        sms = AliyunSmsSender(lambda: (KEY_ID, SECRET), "用户中心", "SMS_1", endpoint=dysms.url, timeout=0.5)
        services = make_services(senders={"sms": sms, "email": FakeSender("email")})
        dysms.mode = mode

        # When a code is asked for
        with pytest.raises(UpstreamUnavailableError):
            services.codes.send("sms", "13800138000", "login", "198.51.100.1")

        # Then no code, no cooldown and no counted send is left: the sender may try again at once
        assert code_items(scan_table()) == []
        dysms.mode = "ok"
        assert services.codes.send("sms", "13800138000", "login", "198.51.100.1")["phone"] == "+8613800138000"
        assert len([i for i in scan_table() if str(i["PK"]).startswith("CODE#")]) == 1


def test_an_email_provider_failure_is_503_and_keeps_nothing(make_services, scan_table):
    # Given SES unreachable (nothing listens where its endpoint points)
    import boto3

    ses = boto3.client("ses", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    services = make_services(senders={"sms": FakeSender("sms"), "email": SesSender("noreply@example.com", client=ses)})

    # When a code is asked for, then it is a 503 and nothing is kept
    with pytest.raises(UpstreamUnavailableError):
        services.codes.send("email", "a@example.com", "register", "198.51.100.1")
    assert code_items(scan_table()) == []


@pytest.mark.parametrize("code", ["down", "busy", "slow"])
def test_a_wechat_failure_is_503_and_writes_nothing(rig: Rig, code: str):
    # Given WeChat answering 502, "system busy" (errcode -1), or after the timeout
    before = rig.scan()

    # When a first sign-in runs
    with pytest.raises(UpstreamUnavailableError):
        rig.services.wechat.sign_in(None, "miniapp", code, CLIENT)

    # Then it is a 503 and nothing was written
    assert rig.scan() == before
