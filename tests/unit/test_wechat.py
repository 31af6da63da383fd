"""WeChat sign-in (issue 4): real-shaped WeChat answers from a local fake, mock mode, the three-layer
account model joined by UnionID, concurrency, limits, binding and the redirect flow."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import RateLimitedError, UpstreamUnavailableError
from shared.providers.wechat import Breaker, WechatApiError
from shared.schemas import AppBody
from shared.services.accounts import RegisterCommand
from shared.services.wechat import (
    AccountLinkedError,
    CallbackNotAllowedError,
    StateInvalidError,
    WechatNotConfiguredError,
)
from tests.fakes.clock import FakeClock
from tests.fakes.wechat import FakeWechat, fake_wechat
from tests.unit.helpers import sign_in_data, user_info_of, user_view

SECRETS = {"wxweb": "web-secret", "wxmini": "mini-secret", "wxmp": "mp-secret"}
IDS = {"web_app_id": "wxweb", "miniapp_app_id": "wxmini", "mp_app_id": "wxmp"}
CLIENT = ClientInfo(ip="203.0.113.9", user_agent="test")


@pytest.fixture
def wechat() -> Iterator[FakeWechat]:
    with fake_wechat(SECRETS) as server:
        yield server


@pytest.fixture
def svc(make_services: Callable[..., Services], wechat: FakeWechat) -> Services:
    built = make_services(wechat_api_base=wechat.url, wechat_timeout=1.0, wechat_secrets=json.dumps(SECRETS))
    built.apps.update("app0", AppBody(**{"wechat": IDS, "allowed_callback_origins": ["https://shop.example.com"]}))
    return built


def test_miniapp_login_creates_a_user_with_one_account(svc: Services, wechat: FakeWechat) -> None:
    result = svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)
    assert result.created is True
    info = user_info_of(result)
    assert info["union_id"] == "union-alice" and info["roles"][0]["role_code"] == "l0"
    assert [(a["provider"], a["type"], a["app_id"], a["open_id"]) for a in info["accounts"]] == [
        ("wechat", "miniapp", "wxmini", "o-wxmini-alice")
    ]
    assert "session_key" not in json.dumps(info) and "tiihtNczf5v6AKRyjwEUhQ" not in json.dumps(sign_in_data(result))
    path, params = wechat.requests[-1]
    assert (
        path == "/sns/jscode2session" and params["js_code"] == "alice" and params["grant_type"] == "authorization_code"
    )
    again = svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)
    assert again.created is False and again.user_id == info["user_id"]


def test_one_person_many_identities_joined_by_unionid(svc: Services) -> None:
    mini = svc.wechat.sign_in(None, "miniapp", "bob", CLIENT)
    web = svc.wechat.sign_in(None, "web", "bob", CLIENT)
    assert web.created is False and web.user_id == mini.user_id
    accounts = {(a["type"], a["open_id"]) for a in user_info_of(web)["accounts"]}
    assert accounts == {("miniapp", "o-wxmini-bob"), ("web", "o-wxweb-bob")}
    assert user_info_of(web)["nickname"] == "bob的微信" or user_info_of(mini)["nickname"].startswith("微信用户")
    # a person without UnionID is not joined to anyone
    loner = svc.wechat.sign_in(None, "miniapp", "nounion-zed", CLIENT)
    assert loner.created is True and loner.user_id != mini.user_id


def test_wechat_errors_and_outages(svc: Services) -> None:
    with pytest.raises(WechatApiError) as invalid:
        svc.wechat.sign_in(None, "miniapp", "bad", CLIENT)
    assert invalid.value.status == 400 and invalid.value.data["errcode"] == 40029
    with pytest.raises(WechatApiError) as used:
        svc.wechat.sign_in(None, "web", "used", CLIENT)
    assert used.value.data["errcode"] == 40163 and "code been used" in used.value.data["errmsg"]
    with pytest.raises(UpstreamUnavailableError):
        svc.wechat.sign_in(None, "miniapp", "slow", CLIENT)  # 2 s answer, 1 s timeout


def test_wechat_unreachable_is_503(make_services) -> None:
    from shared.observability import metrics

    svc = make_services(wechat_api_base="http://127.0.0.1:9", wechat_timeout=1.0, wechat_secrets=json.dumps(SECRETS))
    svc.apps.update("app0", AppBody(**{"wechat": IDS}))
    metrics.clear_metrics()
    with pytest.raises(UpstreamUnavailableError):
        svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)
    assert metrics.metric_set["WechatFailures"]["Value"] == [1.0]  # the provider alarm's metric
    with pytest.raises(UpstreamUnavailableError):
        svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)


def test_an_unreachable_wechat_opens_the_breaker_then_lets_one_trial_through(
    make_services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a container whose WeChat is down (nothing listens on the port), and a breaker on a test clock
    svc = make_services(wechat_api_base="http://127.0.0.1:9", wechat_timeout=1.0, wechat_secrets=json.dumps(SECRETS))
    svc.apps.update("app0", AppBody(**{"wechat": IDS}))
    now = [100.0]
    svc.wechat.client.breaker = Breaker(failures=3, open_seconds=30, clock=lambda: now[0])
    sent: list[str] = []
    real_get = requests.get
    monkeypatch.setattr(requests, "get", lambda url, **kwargs: sent.append(url) or real_get(url, **kwargs))

    # When sign-ins keep failing
    for _ in range(6):
        with pytest.raises(UpstreamUnavailableError):
            svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)

    # Then only the first three reached the network; the others were answered 503 at once
    assert len(sent) == 3
    # And once the open time has passed, one trial call goes out (and, failing, opens it again)
    now[0] += 31
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError):
            svc.wechat.sign_in(None, "miniapp", "alice", CLIENT)
    assert len(sent) == 4


def test_two_first_logins_of_one_person_at_once_make_one_user(svc: Services, scan_table) -> None:
    barrier = threading.Barrier(6)

    def first_login(i: int) -> str:
        barrier.wait()
        kind = "miniapp" if i % 2 else "web"
        return str(svc.wechat.sign_in(None, kind, "carol", CLIENT).user_id)

    with ThreadPoolExecutor(6) as pool:
        user_ids = set(pool.map(first_login, range(6)))
    assert len(user_ids) == 1
    items = scan_table()
    assert len([i for i in items if i["SK"] == "PROFILE"]) == 1
    assert sorted(i["PK"] for i in items if str(i["PK"]).startswith(("ACCT#", "UNION#"))) == [
        "ACCT#wechat#wxmini#o-wxmini-carol",
        "ACCT#wechat#wxweb#o-wxweb-carol",
        "UNION#union-carol",
    ]


def test_five_sign_ins_a_minute_per_openid(svc: Services, clock: FakeClock) -> None:
    clock.now = int(clock.now) // 60 * 60 + 1  # the start of a minute: no boundary is crossed below
    for _ in range(5):
        svc.wechat.sign_in(None, "miniapp", "dave", CLIENT)
    with pytest.raises(RateLimitedError) as limited:
        svc.wechat.sign_in(None, "miniapp", "dave", CLIENT)
    assert 0 < limited.value.data["retry_after"] <= 60
    svc.wechat.sign_in(None, "miniapp", "erin", CLIENT)  # another openid is not affected
    clock.advance(60)
    svc.wechat.sign_in(None, "miniapp", "dave", CLIENT)


def test_mock_mode_only_in_local_mode(make_services) -> None:
    # Given local mode and no AppIDs configured: mock mode
    local = make_services()
    result = local.wechat.sign_in(None, "miniapp", "mockuser", CLIENT)
    account = user_info_of(result)["accounts"][0]
    assert (account["app_id"], account["open_id"], user_info_of(result)["union_id"]) == (
        "mock-miniapp",
        "mockuser",
        "mockuser",
    )
    # When the same configuration runs deployed, in either stage
    for stage in ("dev", "prod"):
        deployed = make_services(stage=stage, local_mode=False)
        deployed.apps.update("app0", AppBody(**{"allowed_callback_origins": ["https://x.example"]}))
        # Then no WeChat sign-in, bind or browser redirect is mocked: a clear 503
        for attempt in ("miniapp", "web", "redirect"):
            with pytest.raises(WechatNotConfiguredError) as refused:
                if attempt == "redirect":
                    deployed.wechat.login_redirect(None, "https://x.example/cb", None, "https://api/cb")
                else:
                    deployed.wechat.sign_in(None, attempt, "mockuser", CLIENT)
            assert refused.value.status == 503


def test_admin_shortcut_only_in_local_mock_mode(make_services) -> None:
    local = make_services()
    admin = local.wechat.sign_in(None, "miniapp", "admin-ops", CLIENT)
    assert "system:user:list" in user_info_of(admin)["permissions"]
    assert "admin" in admin.tokens.session.roles
    plain = local.wechat.sign_in(None, "miniapp", "someone", CLIENT)
    assert user_info_of(plain)["permissions"] == []
    # A deployed dev stack (the template's default stage) has no shortcut and no mock
    deployed = make_services(stage="dev", local_mode=False)
    with pytest.raises(WechatNotConfiguredError):
        deployed.wechat.sign_in(None, "miniapp", "admin-x", CLIENT)
    assert local.users.find_user_id(["ACCT#wechat#mock-miniapp#admin-x"]) is None


def test_bind_links_an_identity_and_refuses_someone_elses(svc: Services) -> None:
    me = svc.accounts.register(RegisterCommand(username="frank", password="secret123"), CLIENT)
    info = user_view(svc.wechat.bind(me.user_id, "app0", "web", "frank"))
    assert [a["open_id"] for a in info["accounts"] if a["provider"] == "wechat"] == ["o-wxweb-frank"]
    assert info["union_id"] == "union-frank"
    # the same person's mini-program then signs in to this user
    assert svc.wechat.sign_in(None, "miniapp", "frank", CLIENT).user_id == me.user_id
    other = svc.accounts.register(RegisterCommand(username="grace", password="secret123"), CLIENT)
    with pytest.raises(AccountLinkedError) as linked:
        svc.wechat.bind(other.user_id, "app0", "web", "frank")
    assert linked.value.status == 409


def test_qr_code_state_is_single_use_and_redirects_are_checked(svc: Services) -> None:
    with pytest.raises(CallbackNotAllowedError):
        svc.wechat.qr_code(None, "https://evil.example.net/cb")
    made = svc.wechat.qr_code(None, "https://shop.example.com/wechat/cb")
    url = urlsplit(made["qr_code_url"])
    query = parse_qs(url.query)
    assert url.netloc == "open.weixin.qq.com" and query["scope"] == ["snsapi_login"]
    assert query["appid"] == ["wxweb"] and query["state"] == [made["state"]]
    assert svc.wechat.take_state(made["state"])["app_name"] == "app0"
    with pytest.raises(StateInvalidError):
        svc.wechat.take_state(made["state"])


def test_redirect_flow_by_user_agent_and_back_to_the_callback(svc: Services, clock: FakeClock) -> None:
    endpoint = "https://api.example.com/prod/api/auth/wechat/callback"
    with pytest.raises(CallbackNotAllowedError):
        svc.wechat.login_redirect(None, "https://shop.example.com.evil.net/", "Mozilla", endpoint)
    in_wechat = svc.wechat.login_redirect(
        None, "https://shop.example.com/done", "Mozilla/5.0 MicroMessenger/8.0", endpoint
    )
    query = parse_qs(urlsplit(in_wechat).query)
    assert in_wechat.startswith("https://open.weixin.qq.com/connect/oauth2/authorize")
    assert query["scope"] == ["snsapi_userinfo"] and query["appid"] == ["wxmp"] and query["redirect_uri"] == [endpoint]
    desktop = svc.wechat.login_redirect(None, "https://shop.example.com/done?x=1", "Mozilla/5.0 Chrome", endpoint)
    desktop_query = parse_qs(urlsplit(desktop).query)
    assert desktop.startswith("https://open.weixin.qq.com/connect/qrconnect") and desktop_query["scope"] == [
        "snsapi_login"
    ]
    back, _ = svc.wechat.callback("henry", query["state"][0], CLIENT)
    landed = urlsplit(back)
    params = parse_qs(landed.query)
    assert landed.netloc == "shop.example.com" and landed.path == "/done"
    assert set(params) == {"userId", "token", "refreshToken"}
    assert svc.sessions.verify(params["token"][0])[0].user_id == params["userId"][0]
    with pytest.raises(StateInvalidError):
        svc.wechat.callback("henry", query["state"][0], CLIENT)  # state is single use
    with_query, _ = svc.wechat.callback("ivan", desktop_query["state"][0], CLIENT)
    assert "?x=1&userId=" in with_query
    stale = parse_qs(urlsplit(svc.wechat.login_redirect(None, "https://shop.example.com/", "x", endpoint)).query)
    clock.advance(601)
    with pytest.raises(StateInvalidError):
        svc.wechat.callback("henry", stale["state"][0], CLIENT)  # 10 minutes


def test_secrets_come_from_ssm_in_aws() -> None:
    import boto3
    from moto import mock_aws

    from shared.config import Settings
    from shared.services.wechat import secret_from_settings

    with mock_aws():
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/user-center/prod/wechat/wxweb", Value="from-ssm", Type="SecureString"
        )
        secret = secret_from_settings(Settings(stage="prod", wechat_secrets_ssm=True))
        assert secret("wxweb") == "from-ssm"
        assert secret("wxunknown") is None
        assert secret_from_settings(Settings(stage="dev"))("wxweb") is None  # local mode never reads SSM
        parameters.clear_caches()


def test_a_successful_trial_closes_the_breaker() -> None:
    now = [0.0]
    breaker = Breaker(failures=2, open_seconds=30, clock=lambda: now[0])
    breaker.failed()
    assert breaker.allow() is True  # one failure: still closed
    breaker.failed()
    assert breaker.allow() is False  # open
    now[0] = 31
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False  # others wait while it runs
    breaker.succeeded()
    assert all(breaker.allow() for _ in range(5))  # closed again


def test_a_wechat_user_with_totp_finishes_with_a_code_in_both_flows(svc: Services, clock: FakeClock) -> None:
    import pyotp

    from shared.errors import MfaRequired

    first = svc.wechat.sign_in(None, "miniapp", "mia", CLIENT)
    setup = svc.mfa.setup(first.user_id)
    generator = pyotp.TOTP(setup.secret)
    svc.mfa.confirm(first.user_id, generator.at(clock()), CLIENT)
    clock.advance(30)
    with pytest.raises(MfaRequired) as due:
        svc.wechat.sign_in(None, "miniapp", "mia", CLIENT)
    assert due.value.methods == ["totp", "recovery_code"]
    step = svc.mfa.verify(due.value.mfa_token, generator.at(clock()), CLIENT)
    assert step.signed_in.user_id == first.user_id and step.amr == ["wechat", "otp", "mfa"]
    # the redirect flow comes back to the callback with the mfa_token instead of tokens
    endpoint = "https://api.example.com/prod/api/auth/wechat/callback"
    start = svc.wechat.login_redirect(None, "https://shop.example.com/done", "Mozilla/5.0 MicroMessenger/8.0", endpoint)
    back, signed_in = svc.wechat.callback("mia", parse_qs(urlsplit(start).query)["state"][0], CLIENT)
    params = parse_qs(urlsplit(back).query)
    assert signed_in is None and set(params) == {"mfa_required", "mfa_token", "methods"}
    assert params["methods"] == ["totp,recovery_code"]
    clock.advance(30)
    assert svc.mfa.verify(params["mfa_token"][0], generator.at(clock()), CLIENT).signed_in.user_id == first.user_id
