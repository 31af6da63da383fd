"""Races (DESIGN.md "Reliability"): concurrent duplicate sign-ups and concurrent use of one refresh token."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import UsernameTakenError
from shared.services.accounts import RegisterCommand, SignedIn
from tests.unit.helpers import user_info_of

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
    winner_id = winners[0].user_id
    winner_email = user_info_of(winners[0])["email"]

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
    assert kinds["ROLE"] == 1
    assert kinds["SESSION"] == 1
    assert [a["provider"] for a in json.loads(profiles[0]["accounts"])] == ["password"]
    assert list(profiles[0]["sessions"]) == [winners[0].tokens.session.session_id]
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


def test_concurrent_refreshes_of_one_token_all_get_the_one_successor(services: Services, sign_up: SignUp):
    # Given one refresh token (two tabs, or twenty, refresh at once)
    first = sign_up("alice").tokens

    # When 20 clients present it at the same instant
    outcomes = run_together(20, lambda _: services.sessions.refresh(first.refresh_token))

    # Then every one succeeds, with the same successor refresh token and a working access token
    errors = [result for kind, result in outcomes if kind == "error"]
    assert errors == []
    pairs = [result for _, result in outcomes]
    assert len({p.refresh_token for p in pairs}) == 1
    for pair in pairs:
        assert services.sessions.verify(pair.access_token)[1].session_id == first.session.session_id
    # And the family never forked: the successor refreshes once more, the first token is now spent
    successor = pairs[0].refresh_token
    assert services.sessions.refresh(successor).refresh_token != successor
