"""Counters for abuse protection (API.md sections 6 and 7), all atomic in the table.

* Sign-in failures per identifier: ``LOGINFAIL#<identifier>`` holds a count (``failures``) and the start of its
  window; the sign-in reads it with its first BatchGetItem, a failure adds one, a success deletes it
  in the session's transaction.
* Fixed-window counters (codes per target per day, per IP per hour): ``RATE#<name>#<subject>#<start>``,
  incremented with a conditional ADD, so concurrent senders never pass the limit together.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from shared.db import keys
from shared.db.models import LoginFailuresItem, RateItem
from shared.db.table import Table, is_condition_failure


class ThrottleRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record_failure(self, identifier_key: str, now: float, window: int) -> None:
        """Count one failed sign-in; a window older than ``window`` seconds starts again at 1."""
        item = LoginFailuresItem(pk=keys.login_failures_pk(identifier_key), sk=keys.LOCK)
        try:
            item.update(
                actions=[LoginFailuresItem.failures.add(1)],
                condition=LoginFailuresItem.window_start > int(now) - window,
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            LoginFailuresItem(pk=item.pk, sk=item.sk, failures=1, window_start=int(now), ttl=int(now) + window).save()

    def hit(self, name: str, subject: str, limit: int, window: int, now: float) -> int | None:
        """Count one event in the current window; None when allowed, else seconds until it resets."""
        start = int(now) // window * window
        item = RateItem(pk=keys.rate_pk(name, subject, start), sk=keys.RATE)
        try:
            item.update(
                actions=[RateItem.hits.add(1), RateItem.ttl.set(start + window + 60)],
                condition=RateItem.hits.does_not_exist() | (RateItem.hits < limit),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return max(1, start + window - int(now))
            raise
        return None

    def release(self, name: str, subject: str, window: int, now: float) -> None:
        """Give back one event of the current window (the action it counted did not happen)."""
        start = int(now) // window * window
        item = RateItem(pk=keys.rate_pk(name, subject, start), sk=keys.RATE)
        try:
            item.update(actions=[RateItem.hits.add(-1)], condition=RateItem.hits > 0)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
