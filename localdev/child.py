"""`python -m localdev` (what `make run` runs) as a child process: for the tests and benchmarks that need a
whole local server of their own, killed or stopped as they choose."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from localdev.template import ROOT

READY = "User center is running at "


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a local server on ``data_dir`` and a free port: without the
    variables that would point it at another table, fast bcrypt, no access log; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DYNAMODB_", "TABLE_NAME", "STAGE"))}
    env.update(
        PORT="0",
        LOCAL_DATA_DIR=str(data_dir),
        LOCAL_ACCESS_LOG="0",
        BCRYPT_ROUNDS="4",
        LEGACY_PBKDF2_ITERATIONS="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start(data_dir: Path, timeout: float = 90, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start a local server on ``data_dir``; the process and its URL once it serves.

    Raises:
        RuntimeError: it exited, or did not say it was running within ``timeout`` seconds (it is killed).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev"],
        cwd=ROOT,
        env=environment(data_dir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None  # noqa: S101 - stdout=PIPE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if not line and process.poll() is not None:
            raise RuntimeError(f"the local server on {data_dir} exited at start ({process.returncode})")
        if READY in line:
            return process, line.split(READY, 1)[1].split()[0]
    process.kill()
    process.wait()
    raise RuntimeError(f"the local server on {data_dir} did not start within {timeout} s")
