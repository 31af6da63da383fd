"""Races (DESIGN.md "Reliability"): concurrent duplicate sign-ups and concurrent use of one refresh token."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import RefreshTokenReusedError, TokenInvalidError, UsernameTakenError
from shared.services.accounts import RegisterCommand, SignedIn
from shared.services.sessions import TokenPair

SignUp = Callable[..., SignedIn]


def run_together(count: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``work(i)`` in ``count`` threads released at the same instant; ``("ok", result)`` or
    ``("error", exception)`` per thread."""
    barrier = threading.Barrier(count)

    def one(i: int) -> tuple[str, Any]:
        barrier.wait()
        try:
            return "ok", work(i)
        except Exception as exc:  # collected and asserted on below
            return "error", exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_sign_ups_of_one_username_exactly_one_wins(services: Services, scan_table):
    # Given 30 clients that register the same username at the same instant (each with its own email)
    def register(i: int) -> SignedIn:
        return services.accounts.register(
            RegisterCommand(username="racer", password="secret123", email=f"racer{i}@example.com"),
            ClientInfo(ip=f"10.0.0.{i}"),
        )

    # When they all run
    outcomes = run_together(30, register)

    # Then exactly one succeeds and the other 29 get USERNAME_TAKEN
    winners = [result for kind, result in outcomes if kind == "ok"]
    errors = [result for kind, result in outcomes if kind == "error"]
    assert len(winners) == 1, errors[:3]
    assert len(errors) == 29
    assert all(isinstance(e, UsernameTakenError) for e in errors), Counter(type(e).__name__ for e in errors)
    winner_id = winners[0].user_info["user_id"]
    winner_email = winners[0].user_info["email"]

    # And the table holds one user, one username claim, and nothing of the 29 losers
    items = scan_table()
    profiles = [i for i in items if i["SK"] == "PROFILE"]
    assert [p["user_id"] for p in profiles] == [winner_id]
    assert [i["user_id"] for i in items if str(i["PK"]).startswith("UNAME#")] == [winner_id]
    assert [i["PK"] for i in items if str(i["PK"]).startswith("EMAIL#")] == [f"EMAIL#{winner_email}"]
    user_owned = [i for i in items if "user_id" in i]
    orphans = [i for i in user_owned if i["user_id"] != winner_id]
    assert orphans == []
    kinds = Counter(str(i["SK"]).split("#")[0] for i in items if i.get("user_id") == winner_id)
    assert kinds["ACCOUNT"] == 1
    assert kinds["ROLE"] == 1
    assert kinds["SESSION"] == 1
    # And every item keyed by a user id belongs to the winner
    keyed_ids = {
        str(i[key]).split("#", 1)[1]
        for i in items
        for key in ("PK", "GSI1PK", "GSI1SK")
        if str(i.get(key, "")).startswith(("USER#", "AUDIT#"))
    }
    assert keyed_ids == {winner_id}


def test_concurrent_sign_ups_of_different_users_all_succeed(services: Services, scan_table):
    outcomes = run_together(
        10,
        lambda i: services.accounts.register(RegisterCommand(username=f"user{i}", password="secret123"), ClientInfo()),
    )
    assert [kind for kind, _ in outcomes] == ["ok"] * 10, [r for k, r in outcomes if k == "error"][:2]
    assert len([i for i in scan_table() if i["SK"] == "PROFILE"]) == 10


def test_concurrent_refreshes_of_one_token_exactly_one_wins(services: Services, sign_up: SignUp):
    # Given one refresh token
    first = sign_up("alice").tokens

    # When 20 clients present it at the same instant
    outcomes = run_together(20, lambda _: services.sessions.refresh(first.refresh_token))

    # Then exactly one gets a new token pair
    winners = [result for kind, result in outcomes if kind == "ok"]
    errors = [result for kind, result in outcomes if kind == "error"]
    assert len(winners) == 1, Counter(type(e).__name__ for e in errors)
    assert isinstance(winners[0], TokenPair)
    # And every other one is refused as a reuse (or, once the session is revoked, as invalid)
    assert all(isinstance(e, RefreshTokenReusedError | TokenInvalidError) for e in errors), errors
    assert any(isinstance(e, RefreshTokenReusedError) for e in errors)
    # And the reuse revoked the session: it is gone, not resurrected by a late writer
    assert services.sessions.sessions.get(first.session.session_id) is None
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(winners[0].refresh_token)
