"""Entry point: ``python -m bench [--quick]`` (``make bench``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="DESIGN.md quality bars, measured.")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a rougher, faster run)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(
        f"make bench{' --quick' if args.quick else ''}: Python {platform.python_version()} "
        f"on {platform.machine()}, {os.cpu_count()} CPUs ({platform.system()} {platform.release()})"
    )

    from bench import roundtrips
    from bench.dynamo import embedded

    with embedded() as dynamo:
        roundtrips.run(dynamo)

    print()
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
