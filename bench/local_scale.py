"""Local mode at size (issue 10, DESIGN.md "Quality bars"): `make run`'s server with 100,000 users.

Two sections, each against local servers started as `make run` starts one (``localdev.server``, the
embedded DynamoDB in its own process), each on a data directory of its own under a temporary directory:

1. Register and sign-in p50 over HTTP against an empty table and against one holding 100,000 users
   (loaded by ``localdev.seed``, the code behind `make seed`), the two servers side by side, requests
   alternating between them; then the resident memory of each embedded DynamoDB process.
   Bars: p50 with 100,000 users within 1.5x of the empty table's; the embedded DynamoDB under 1 GB.
2. A bounded load test: 16 clients for a fixed time (60 s; 15 s with ``--quick``), each signing in as a
   seeded user, calling an authorized route, refreshing, calling again with the new token. Bars: no 5xx,
   no lost session (an authorized call refused with a valid token). Then the same mix against moto as
   released (``LOCAL_MOTO_UNPATCHED=1``) with fewer users: it cannot hold 100,000 (each transaction copies
   the table, and every copy stays in memory).

bcrypt runs at cost 4 for the accounts registered here (seeded users have a cost-4 hash), so that the
figures show the server and its data, not the password hash (`bcrypt cost` measures that).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report

USERS = 100_000
UNPATCHED_USERS = 2_000
CLIENTS = 16
WARMUP = 8.0  # seconds of load before the measured run
RATIO_BAR = 1.5
MEMORY_BAR = 1024**3


@dataclass
class Server:
    """A local server running in its own process, as `make run` runs it."""

    process: subprocess.Popen[bytes]
    url: str
    endpoint: str  # its embedded DynamoDB
    table_name: str

    @property
    def embedded_pid(self) -> int:
        from localdev import dynamo

        status = dynamo.status(self.endpoint)
        return int(status["pid"]) if status else 0


@contextmanager
def local_server(data_dir: Path, **env: str) -> Iterator[Server]:
    """`python -m localdev` (what `make run` runs) on ``data_dir`` and a free port; Ctrl-C'd at the end."""
    from localdev import child

    process, url = child.start(data_dir, 300, POWERTOOLS_LOG_LEVEL="ERROR", **env)
    try:
        info = json.loads((data_dir / "server.json").read_text(encoding="utf-8"))
        yield Server(process, url, str(info["dynamodb_endpoint"]), str(info["table"]))
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: it saves its data, then stops
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def embedded_memory(server: Server) -> int:
    from localdev.dynamo import resident_memory

    return resident_memory(server.embedded_pid)


def seed_users(server: Server, count: int) -> float:
    """Load ``count`` users with `make seed`'s code; returns the seconds it took."""
    from localdev import seed

    started = time.perf_counter()
    seed.seed(server.endpoint, server.table_name, count, out=None)
    return time.perf_counter() - started


class Client:
    """One HTTP client (its own connection pool), timing each call."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any, float]:
        """Status (0: no answer within 60 s, or the connection failed), JSON body, seconds."""
        import requests

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        try:
            answer = self.http.request(method, self.base + path, headers=headers, timeout=60, **kwargs)
        except requests.RequestException as exc:
            return 0, str(exc), time.perf_counter() - started
        elapsed = time.perf_counter() - started
        try:
            body = answer.json()
        except ValueError:
            body = None
        return answer.status_code, body, elapsed


# -- 1. register and sign-in, empty table beside 100,000 users -------------------------------------------
def flows(servers: dict[str, Any], count: int) -> dict[str, dict[str, list[float]]]:
    """Register ``count`` new users on each server, then sign each in, alternating between servers."""
    clients = {name: Client(server.url) for name, server in servers.items()}
    timings: dict[str, dict[str, list[float]]] = {name: {"register": [], "login": []} for name in servers}
    names = [f"bench{uuid.uuid4().hex[:8]}{n}" for n in range(count)]
    for flow in ("register", "login"):
        for index, username in enumerate(names):
            order = list(clients.items()) if index % 2 == 0 else list(reversed(clients.items()))
            for name, client in order:
                body = {"username": username, "password": "bench-password-1"}
                status, answer, elapsed = client.call("POST", f"/api/auth/{flow}/", json=body)
                expected = 201 if flow == "register" else 200
                if status != expected:
                    raise RuntimeError(f"{flow} on the {name} server answered {status}: {answer}")
                if index >= 5:  # the first calls warm each worker up
                    timings[name][flow].append(elapsed)
    return timings


def run_flows(stack: ExitStack, workdir: Path, quick: bool) -> Any:
    """Section 1; returns the server with 100,000 users, left running (in ``stack``) for the load test."""
    count = 60 if quick else 200
    report.heading(f"6. Local mode at size: register and sign-in p50 over HTTP, {count} calls each, side by side")
    full = stack.enter_context(local_server(workdir / "full"))
    with local_server(workdir / "empty") as empty:
        seconds = seed_users(full, USERS)
        timings = flows({"empty": empty, "full": full}, count)
        empty_memory = embedded_memory(empty)
    rows = []
    for flow in ("register", "login"):
        base, loaded = report.median(timings["empty"][flow]), report.median(timings["full"][flow])
        ratio = loaded / base
        rows.append(
            [
                flow,
                report.ms(base),
                report.ms(loaded),
                f"{ratio:.2f}x",
                f"≤ {RATIO_BAR}x {report.verdict(ratio <= RATIO_BAR)}",
            ]
        )
    report.table(["flow", "empty table p50", f"{USERS:,} users p50", "ratio", "bar"], rows, "<>>>")
    report.note(f"{USERS:,} users loaded with `make seed`'s code in {seconds:.0f} s ({USERS / seconds:,.0f} users/s)")
    report.note(f"embedded DynamoDB of the empty table's server: {report.size(empty_memory)} resident")
    return full


# -- 2. the load test -------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients saw: timings per operation, statuses, sessions lost."""

    timings: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    lost: int = 0
    warmup_failures: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, status: int, elapsed: float) -> None:
        with self.lock:
            self.timings.setdefault(operation, []).append(elapsed)
            self.statuses[status] += 1


def client_loop(base: str, users: int, until: float, tally: Tally, seed_value: int) -> None:
    """Sign in as a random seeded user, call an authorized route, refresh, call with the new token."""
    from localdev.seed import DEFAULT_PASSWORD

    rng = random.Random(seed_value)
    client = Client(base)
    while time.monotonic() < until:
        username = f"seed{rng.randrange(users):06d}"
        status, body, elapsed = client.call(
            "POST", "/api/auth/login/", json={"username": username, "password": DEFAULT_PASSWORD}
        )
        tally.add("sign-in", status, elapsed)
        if status != 200:
            tally.errors.append(f"sign-in {username}: {status} {body}")
            continue
        access, refresh = body["data"]["access_token"], body["data"]["refresh_token"]
        for _ in range(2):
            status, body, elapsed = client.call("GET", "/api/auth/user/info/", token=access)
            tally.add("user info", status, elapsed)
            if status == 401:
                tally.lost += 1
        status, body, elapsed = client.call("POST", "/api/auth/token/refresh/", json={"refresh_token": refresh})
        tally.add("refresh", status, elapsed)
        if status != 200:
            tally.lost += status in (400, 401)
            tally.errors.append(f"refresh {username}: {status} {body}")
            continue
        status, body, elapsed = client.call("GET", "/api/auth/user/info/", token=body["data"]["access_token"])
        tally.add("user info", status, elapsed)
        if status == 401:
            tally.lost += 1


def load(server: Any, users: int, seconds: float, warmup: float = WARMUP) -> Tally:
    """The mix for ``seconds``, after ``warmup`` seconds of it not counted (the functions' workers start
    as the load grows, as Lambda's would: a cold start is not what this measures)."""
    tallies: list[Tally] = []
    for phase in (warmup, seconds):
        tally = Tally()
        tallies.append(tally)
        until = time.monotonic() + phase
        clients = [
            threading.Thread(target=client_loop, args=(server.url, users, until, tally, n + int(phase)))
            for n in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    warm, measured = tallies
    # failures during the warm-up count too (only its timings are left out)
    measured.warmup_failures = sum(n for status, n in warm.statuses.items() if status >= 500 or status == 0) + warm.lost
    measured.errors = warm.errors + measured.errors
    return measured


def load_rows(label: str, tally: Tally, seconds: float) -> list[list[str]]:
    everything = [t for timings in tally.timings.values() for t in timings]
    fives = sum(count for status, count in tally.statuses.items() if status >= 500)
    unanswered = tally.statuses[0]
    rows = []
    for operation, timings in sorted(tally.timings.items()):
        rows.append(
            [
                label,
                operation,
                f"{len(timings):,}",
                report.ms(report.median(timings)),
                report.ms(report.percentile(timings, 99)),
                "",
                "",
            ]
        )
    ok = fives == 0 and tally.lost == 0 and unanswered == 0 and tally.warmup_failures == 0
    rows.append(
        [
            label,
            "all",
            f"{len(everything):,} ({len(everything) / seconds:.0f} rps)",
            report.ms(report.median(everything)) if everything else "-",
            report.ms(report.percentile(everything, 99)) if everything else "-",
            f"{fives} 5xx, {unanswered} unanswered, {tally.lost} lost (warm-up: {tally.warmup_failures})",
            report.verdict(ok),
        ]
    )
    return rows


def run_load(full: Any, workdir: Path, quick: bool) -> None:
    seconds = 15.0 if quick else 60.0
    report.heading(
        f"7. Local mode load test: {CLIENTS} clients for {seconds:.0f} s after {WARMUP:.0f} s of warm-up "
        "(sign-in, user info x2, refresh, user info)"
    )
    patched = load(full, USERS, seconds)
    memory = embedded_memory(full)
    rows = load_rows(f"patched, {USERS:,} users", patched, seconds)
    with local_server(workdir / "unpatched", LOCAL_MOTO_UNPATCHED="1") as unpatched_server:
        seed_users(unpatched_server, UNPATCHED_USERS)
        before = load(unpatched_server, UNPATCHED_USERS, seconds)
        unpatched_memory = embedded_memory(unpatched_server)
    rows += load_rows(f"moto as released, {UNPATCHED_USERS:,} users", before, seconds)
    report.table(["server", "operation", "requests", "p50", "p99", "errors", "bar"], rows, "<<>>>><")
    report.note(
        f"moto as released gets {UNPATCHED_USERS:,} users, not {USERS:,}: each of its transactions copies the "
        "whole table (once per item), and every copy it makes stays in memory"
    )
    for label, tally in (("patched", patched), ("moto as released", before)):
        if tally.errors:
            report.note(f"{label}: {len(tally.errors)} failed calls, e.g. {tally.errors[0][:200]}")
    report.heading("8. Resident memory of the embedded DynamoDB process after the runs")
    report.table(
        ["server", "resident memory", "bar"],
        [
            [f"patched, {USERS:,} users", report.size(memory), f"< 1 GB {report.verdict(0 < memory < MEMORY_BAR)}"],
            [f"moto as released, {UNPATCHED_USERS:,} users", report.size(unpatched_memory), ""],
        ],
        "<><",
    )


def run(quick: bool, section: Callable[[str, Callable[[], None]], None]) -> None:
    """Both sections, sharing the server with 100,000 users."""
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        full: list[Any] = []
        section("local mode at size", lambda: full.append(run_flows(stack, workdir, quick)))
        if full:
            section("local mode load test", lambda: run_load(full[0], workdir, quick))
