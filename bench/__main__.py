"""Entry point: ``python -m bench [--quick]`` (``make bench``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable

failures: list[str] = []


def section(name: str, action: Callable[[], None]) -> None:
    """Run one section; a failure is printed and remembered, and the other sections still run."""
    try:
        action()
    except Exception as exc:
        failures.append(name)
        print(f"\n{name}: FAILED ({type(exc).__name__}: {exc})")
        traceback.print_exc(limit=-3, file=sys.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="DESIGN.md quality bars, measured.")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a rougher, faster run)")
    parser.add_argument(
        "--local-only", action="store_true", help="only local mode at size and the user import (sections 6-9)"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"make bench{' --quick' if args.quick else ''}: Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load} at start"
    )

    from bench import (
        bcrypt_cost,
        coldstart,
        cost,
        latency,
        local_scale,
        password_timing,
        roundtrips,
        sizes,
        units,
        user_import,
    )
    from bench.dynamo import embedded

    cold: dict[str, float] = {}
    if not args.local_only:
        with embedded() as dynamo:
            section("round trips", lambda: roundtrips.run(dynamo))
            section("cold start", lambda: cold.update(coldstart.run(3 if args.quick else 7)))
            section("authorizer latency", lambda: latency.run(dynamo, 100 if args.quick else 300))
        section("package sizes", sizes.run)
        section("bcrypt cost", lambda: bcrypt_cost.run(3 if args.quick else 5))
        section("password failure timing", lambda: password_timing.run(3 if args.quick else 5))
    local_scale.run(args.quick, section)
    section("user import", lambda: user_import.run(args.quick))
    if not args.local_only:
        with embedded() as dynamo:
            section("capacity units", lambda: units.run(dynamo))
            section("cost", lambda: cost.run(dynamo, cold, 5 if args.quick else 15))
        section("shared keys", units.shared_keys_result)

    print()
    print(f"done in {time.perf_counter() - started:.1f} s" + (f"; failed: {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
