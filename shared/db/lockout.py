"""Sign-in attempts reserved before the password is checked (API.md section 7, login lockout).

An attempt is reserved with one conditional UpdateItem *before* bcrypt runs, so however many tries
arrive at once, no more than ``max_failures`` are checked against the password in one window:

* for an identifier that names an account, on the user item (``login_fails``, ``login_window``): one
  counter per account, whichever identifier form or app the try used; the same UpdateItem returns the
  user item (``ALL_NEW``), so it is also the sign-in's read of the user;
* for a name that matches no account, on ``LOGINFAIL#<identifier>``, so both cases cost the same.

A successful sign-in removes the account's counter in its session transaction. When the window has
passed, the next try starts a new one (a compare-and-set on the window start).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from shared.db import keys
from shared.db.models import LoginFailuresItem, UserItem
from shared.db.table import is_condition_failure


class Locked(Exception):
    """Too many attempts in the window: ``retry_after`` seconds until it passes."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LockoutRepository:
    def reserve_account(self, user_id: str, max_tries: int, window: int, now: float) -> UserItem | None:
        """Reserve one attempt on the user's counter; the user item after it (None: no such user).

        Raises:
            Locked: ``max_tries`` attempts were reserved in the current window.
        """
        item = UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE)
        try:
            _reserve(item, "login_fails", "login_window", max_tries, window, now, must_exist=True)
        except DoesNotExist:
            return None
        return item

    def reserve_name(self, identifier_key: str, max_tries: int, window: int, now: float) -> None:
        """Reserve one attempt for a name that matches no account.

        Raises:
            Locked: ``max_tries`` attempts were reserved in the current window.
        """
        item = LoginFailuresItem(pk=keys.login_failures_pk(identifier_key), sk=keys.LOCK)
        _reserve(item, "failures", "window_start", max_tries, window, now, ttl=int(now) + window)


def _reserve(
    item: Any,
    count_name: str,
    start_name: str,
    max_tries: int,
    window: int,
    now: float,
    *,
    must_exist: bool = False,
    ttl: int | None = None,
) -> None:
    """ADD 1 while under the limit (``item`` then holds the item after it); a full window that has
    passed restarts at 1, by a compare-and-set on its start.

    Raises:
        Locked: the window is full.
        DoesNotExist: ``must_exist`` and there is no such item.
    """
    model = type(item)
    count, start = getattr(model, count_name), getattr(model, start_name)
    extra: list[Any] = [model.ttl.set(ttl)] if ttl is not None else []
    under = count.does_not_exist() | (count < max_tries)
    condition = (model.pk.exists() & under) if must_exist else under
    try:
        item.update(actions=[count.add(1), start.set(start | int(now)), *extra], condition=condition)
        return
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
    current = model.get(item.pk, item.sk, consistent_read=True)  # DoesNotExist: the user is gone
    began = int(getattr(current, start_name) or 0)
    if began + window > now:
        raise Locked(max(1, int(began + window - now)))
    try:  # the window has passed: start a new one, unless a concurrent try just did
        item.update(actions=[count.set(1), start.set(int(now)), *extra], condition=start == began)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        raise Locked(1) from exc
