"""A per-container cache with a time to live, for what every request needs and may see seconds late
(an app's settings, its menus and the menus its roles open): the container that changes an entry drops
it at once; other containers see the change within the time to live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from shared.clock import Clock

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str, load: Callable[[], T], fresh: bool = False) -> T:
        """The entry of ``key``, loaded when missing, expired or ``fresh`` is asked for (and kept)."""
        now = self.clock()
        hit = self._entries.get(key)
        if not fresh and hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        self._entries[key] = (now + self.seconds, value)
        return value

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
