"""Import 100,000 users through ``scripts/users.py`` against `make run`'s server (issue 12).

A local server is started as `make run` starts one (``localdev.child``, the embedded DynamoDB in its own
process) on an empty data directory, with a super admin. A JSON lines file of 100,000 people is written
(usernames, e-mail addresses, phone numbers, roles in app0, and password hashes of the replaced systems:
Django pbkdf2_sha256 and bcrypt_sha256, bcrypt $2a$ and $2b$, made once each and shared, since the import
stores hashes as given and pays no bcrypt per row), then imported by the operator's command exactly as
docs/migration.md gives it, timed from start to finish; then its first 10,000 rows again (every one
answered ``unchanged``), and the export's first 20,000 rows (its pages cost the same at any size).

The bar (issue 12): 100,000 users in minutes, not hours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bcrypt
import requests

from bench import report

USERS = 100_000
QUICK_USERS = 10_000
BATCH = 1000
ADMIN = ("bench-root", "bench-root-password-1")
BAR_SECONDS = 30 * 60  # "minutes, not hours": half an hour at most
RESEND = 10_000
EXPORT_ROWS = 20_000  # the export's rate is the same at any size (pages of one shard): a sample keeps the run short


def legacy_hashes() -> list[str]:
    """One hash of each replaced system's kind (the import does not look inside them)."""
    password = b"imported-password-1"
    derived = hashlib.pbkdf2_hmac("sha256", password, b"benchsalt", 1_000_000)
    digest = hashlib.sha256(password).hexdigest().encode()
    return [
        f"pbkdf2_sha256$1000000$benchsalt${base64.b64encode(derived).decode()}",
        "bcrypt_sha256$" + bcrypt.hashpw(digest, bcrypt.gensalt(12)).decode(),
        bcrypt.hashpw(password, bcrypt.gensalt(10, b"2a")).decode(),
        bcrypt.hashpw(password, bcrypt.gensalt(12, b"2b")).decode(),
    ]


def write_rows(path: Path, count: int) -> None:
    hashes = legacy_hashes()
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            row: dict[str, Any] = {
                "external_id": f"bench:{i}",
                "username": f"imp{i:06d}",
                "password_hash": hashes[i % len(hashes)],
                "created_at": 1_600_000_000 + i,
            }
            if i % 2 == 0:
                row["email"] = f"imp{i:06d}@example.com"
            if i % 3 == 0:
                row["phone"] = f"+86139{i:08d}"
            if i % 10 == 0:
                row["roles"] = {"app0": ["l0"]}
            out.write(json.dumps(row) + "\n")


def users_command(*args: str, token: str) -> tuple[float, dict[str, Any]]:
    """``python scripts/users.py ...``: the seconds it took and its summary line."""
    from localdev.template import ROOT

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "users.py"), *args],
        env={**os.environ, "UC_TOKEN": token},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"scripts/users.py {args[0]} failed: {done.stderr[-1000:]}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, summary


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def run(quick: bool) -> None:
    from localdev import child

    count = QUICK_USERS if quick else USERS
    report.heading(f"8b. Import {count:,} users with scripts/users.py against `make run`'s server (batches of {BATCH})")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        source, resend = workdir / "users.jsonl", workdir / "again.jsonl"
        write_rows(source, count)
        with source.open(encoding="utf-8") as rows, resend.open("w", encoding="utf-8") as out:
            out.writelines(line for _, line in zip(range(min(count, RESEND)), rows, strict=False))
        sent_again = min(count, RESEND)
        env = {"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], "POWERTOOLS_LOG_LEVEL": "ERROR"}
        process, url = child.start(workdir / "data", 300, **env)
        try:
            login = requests.post(
                f"{url}/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=60
            )
            token = login.json()["data"]["access_token"]
            args = ("--api", url, "--batch", str(BATCH), "--system", "bench")
            first, created = users_command("import", str(source), *args, token=token)
            again, unchanged = users_command("import", str(resend), *args, token=token)
            pages = ("--batch", "500", "--max-batches", str(EXPORT_ROWS // 500))
            out, exported = users_command("export", str(workdir / "some.jsonl"), "--api", url, *pages, token=token)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = [
        ["import (new)", f"{created.get('created', 0):,} created", minutes(first), f"{count / first:,.0f}"],
        [f"again, first {sent_again:,}", f"{unchanged.get('unchanged', 0):,} unchanged", minutes(again),
         f"{sent_again / again:,.0f}"],
        ["export, first pages", f"{exported['rows']:,} rows", minutes(out), f"{exported['rows'] / out:,.0f}"],
    ]  # fmt: skip
    report.table(["run", "result", "total", "rows/s"], rows, "<<>>")
    ok = created.get("created") == count and unchanged.get("unchanged") == sent_again and first < BAR_SECONDS
    report.note(
        f"bar: {count:,} users in minutes, not hours (under {BAR_SECONDS // 60} min), every row created once "
        f"and unchanged when sent again {report.verdict(ok)}"
    )
