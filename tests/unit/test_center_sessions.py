"""The sign-in center's session (issue 11): the cookie value is never stored, the session lives within
its idle and absolute lifetimes, and ends with every other session of the user (password change, disable,
sign out everywhere); single logout gets the app sessions opened through it."""

from __future__ import annotations

import json

from shared.container import Services
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD


def open_for(services: Services, username: str = "alice") -> tuple[str, str]:
    from shared.domain import ClientInfo
    from shared.services.accounts import RegisterCommand

    signed_up = services.accounts.register(RegisterCommand(username=username, password=PASSWORD), ClientInfo())
    record = services.accounts.item(signed_up.user_id)
    value, _ = services.center_sessions.open(signed_up.user_id, record.rev, ["pwd"])
    return value, signed_up.user_id


def test_the_cookie_value_is_never_stored_and_names_the_session(services: Services, scan_table) -> None:
    value, user_id = open_for(services)
    assert value not in json.dumps(scan_table(), default=str)
    session = services.center_sessions.current(value)
    assert session is not None and session.user_id == user_id and session.amr == ["pwd"]
    assert services.center_sessions.current(value + "x") is None and services.center_sessions.current(None) is None


def test_idle_and_absolute_lifetimes(services: Services, clock: FakeClock) -> None:
    value, _ = open_for(services)
    # Used every 23 hours, it lives on past a day (7 x 23 h = 161 h) ...
    for _ in range(7):
        clock.advance(23 * 3600)
        assert services.center_sessions.current(value) is not None
    # ... but not past its absolute lifetime (7 days = 168 h)
    clock.advance(23 * 3600)
    assert services.center_sessions.current(value) is None
    # And a session left alone for a day ends
    other, _ = open_for(services, "bob")
    clock.advance(24 * 3600)
    assert services.center_sessions.current(other) is None


def test_max_age_asks_for_a_recent_sign_in(services: Services, clock: FakeClock) -> None:
    value, _ = open_for(services)
    clock.advance(600)
    assert services.center_sessions.current(value, max_age=900) is not None
    assert services.center_sessions.current(value, max_age=300) is None


def test_it_ends_with_the_users_other_sessions(services: Services) -> None:
    value, user_id = open_for(services)
    services.accounts.revoke_all(user_id)  # "sign out everywhere", a password reset, an admin's password
    assert services.center_sessions.current(value) is None
    again, bob = open_for(services, "bob")
    services.accounts.set_status(bob, "disabled")
    assert services.center_sessions.current(again) is None


def test_single_logout_returns_the_app_sessions_it_opened(services: Services) -> None:
    value, _ = open_for(services)
    session = services.center_sessions.current(value)
    assert session is not None
    services.center_sessions.signed_in_to(session.cookie_hash, "shop", "app-session-1")
    services.center_sessions.signed_in_to(session.cookie_hash, "blog", "app-session-2")
    ended = services.center_sessions.end(value)
    assert ended is not None and ended.clients == {"shop": "app-session-1", "blog": "app-session-2"}
    assert services.center_sessions.current(value) is None and services.center_sessions.end(value) is None


def test_the_lifetimes_are_settings(make_services, clock: FakeClock) -> None:
    services = make_services(center_session_idle=600, center_session_max=3600)
    value, _ = open_for(services)
    clock.advance(599)
    assert services.center_sessions.current(value) is not None
    clock.advance(601)  # 1,200 s in, but unused for 601 s
    assert services.center_sessions.current(value) is None
