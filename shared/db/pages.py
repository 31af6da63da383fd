"""Bounded pages over several partitions read side by side (the shards of an index, the holders of
several roles): each partition gives one DynamoDB page (``Limit`` items evaluated, a filter applied after),
and the merge returns only what is known to come first, with a cursor even when nothing matched yet.

So a request reads at most ``partitions * limit`` items whatever the filter, and a filter that matches
rarely answers empty pages with a cursor (as DynamoDB itself does) instead of walking a whole partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """One partition's page: its matches as ``(sort key, value)``, and the sort key of the last item it
    evaluated when more remain (None: the partition is exhausted below the cursor)."""

    matches: list[tuple[str, T]]
    evaluated_to: str | None


def merge(parts: list[Part[T]], limit: int, descending: bool) -> tuple[list[T], str | None]:
    """The first ``limit`` matches over every part, in sort-key order, and the cursor (an exclusive
    sort-key bound) of the next page; None when every part is exhausted and nothing is left.

    Only matches every part has evaluated up to are returned: beyond the least advanced part's last
    evaluated key another part may hold earlier matches, so they wait for the next page (read again).
    A value found in several parts (a user holding several roles) is returned once.
    """
    bounds = [p.evaluated_to for p in parts if p.evaluated_to is not None]
    edge = (max(bounds) if descending else min(bounds)) if bounds else None
    known: dict[str, T] = {}
    for part in parts:
        for key, value in part.matches:
            if edge is None or (key >= edge if descending else key <= edge):
                known.setdefault(key, value)
    ordered = sorted(known.items(), key=lambda kv: kv[0], reverse=descending)
    page = ordered[:limit]
    if len(ordered) > limit:
        return [v for _, v in page], page[-1][0]
    return [v for _, v in page], edge


def one_page(results: Any, model: Any) -> tuple[list[Any], dict[str, Any] | None]:
    """The first page of a PynamoDB Query (its ``page_size`` is DynamoDB's ``Limit``): the items and the
    ``LastEvaluatedKey``, never a second page."""
    page = next(results.page_iter)
    return [model.from_raw_data(raw) for raw in page.get("Items", [])], page.get("LastEvaluatedKey")


def key_value(key: dict[str, Any] | None, name: str) -> str | None:
    """A string attribute of a raw DynamoDB key (``LastEvaluatedKey``)."""
    if not key or name not in key:
        return None
    return str(next(iter(key[name].values())))
