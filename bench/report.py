"""Plain-text tables and the small statistics the sections share."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1_000_000:.0f} µs"


def duration(seconds: float) -> str:
    """µs below a millisecond, ms above."""
    return us(seconds) if seconds < 0.001 else ms(seconds, 2)


def size(num_bytes: int) -> str:
    if num_bytes >= 1024 * 1024:
        return f"{num_bytes / (1024 * 1024):.1f} MB"
    if num_bytes >= 1024:
        return f"{num_bytes / 1024:.1f} KB"
    return f"{num_bytes} B"


def verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def heading(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "", indent: int = 0) -> None:
    """Print rows under headers; ``align`` holds one ``<`` or ``>`` per column (default ``<``)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    spec = align.ljust(len(headers), "<")

    def line(cells: Sequence[str]) -> str:
        parts = [f"{cell:{spec[i]}{widths[i]}}" for i, cell in enumerate(cells)]
        return (" " * indent + "  ".join(parts)).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))


def note(text: str) -> None:
    print(f"  note: {text}")
