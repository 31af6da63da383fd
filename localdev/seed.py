"""`make seed N=100000`: many registered users in the local table, fast (issue 10).

Each seeded user is what a sign-up writes (``AccountService.register``): the username claim, the user item
(with its directory keys on GSI2), the default role's membership (GSI1), the first session and the
``register`` audit event. The items are built by the same repository code as a sign-up's
(``UserRepository.create``), recorded instead of sent as a transaction, and put straight into local
mode's embedded DynamoDB (or, for another DynamoDB, loaded with BatchWriteItem, 25 at a time). Every
seeded user signs in with one password (``seed-password`` unless given), hashed once at bcrypt cost 4.
Usernames are ``<prefix><n>`` (``seed000000``, ``seed000001``, ...); a user whose username is taken already
is skipped, so seeding again adds only the users not seeded yet (every id is derived from the username).

Where the users go:
- a running ``make run`` (its ``.local/server.json`` names the embedded DynamoDB): straight into it;
- otherwise the snapshot ``.local/dynamodb.json``: loaded into an embedded DynamoDB started for the
  purpose, seeded, and written back (the next ``make run`` starts with the users).
- ``--endpoint``: any DynamoDB endpoint (``--table`` names the table, which must exist).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

DEFAULT_PASSWORD = "seed-password"
DEFAULT_PREFIX = "seed"
BCRYPT_COST = 4  # ~1 ms to verify: sign-ins of seeded users stay cheap; the configured cost hashes new ones
BATCH = 25  # BatchWriteItem's limit
CHUNK = 2000  # users per request to the embedded DynamoDB
LOOKUP = 100  # users looked up per BatchGetItem (its limit), to skip those seeded already
SERVER_FILE = "server.json"  # written by a running local server (localdev/server.py)


# -- the items of one registered user -------------------------------------------------------------------
class _Recorder:
    """Stands in for a PynamoDB ``TransactWrite``: records each item a sign-up's transaction would put."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def save(self, model: Any, condition: Any = None) -> None:
        self.items.append(model.serialize())


class _RecordingTable:
    """The table of a ``UserRepository`` whose transactions are recorded, not sent."""

    def __init__(self) -> None:
        self.last = _Recorder()

    def transaction(self) -> _Recorder:
        self.last = _Recorder()
        return self.last


class _SeedIds:
    """Ids derived from the user being seeded (32 hex digits, like ``shared.clock.new_id``'s)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.user = ""
        self.count = 0

    def start(self, username: str) -> None:
        self.user, self.count = username, 0

    def __call__(self) -> str:
        self.count += 1
        return hashlib.sha256(f"{self.prefix}:{self.user}:{self.count}".encode()).hexdigest()[:32]


class RegisteredUsers:
    """Builds the items a sign-up writes for ``<prefix><n>``, as ``AccountService.register`` composes
    them: a password user with the app's default role, its ``password`` account, a first session and the
    ``register`` audit event, written by ``UserRepository.create``."""

    def __init__(
        self,
        settings: Any,
        prefix: str = DEFAULT_PREFIX,
        password: str = DEFAULT_PASSWORD,
        app_name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import bcrypt

        from shared.container import build_services
        from shared.db.table import Table
        from shared.db.users import UserRepository

        self.prefix = prefix
        self.clock = clock
        self.ids = _SeedIds(prefix)
        services = build_services(settings, clock=clock, ids=self.ids)
        self.app_name = app_name or settings.default_app
        # The default role is created now if missing, as the first sign-up would.
        self.grant = services.apps.default_grant(self.app_name)[1]
        self.sessions = services.sessions
        self.audit_seconds = settings.audit_retention_days * 24 * 3600
        self.password_hash = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_COST)).decode("ascii")
        self.table = _RecordingTable()
        self.users = UserRepository(cast(Table, self.table), clock)

    def username(self, index: int) -> str:
        return f"{self.prefix}{index:06d}"

    def items(self, index: int) -> list[dict[str, Any]]:
        """The low-level items (AttributeValue maps) of user ``index``."""
        from shared.db import keys
        from shared.domain import Account, ClientInfo, User
        from shared.identifiers import username_key

        username = self.username(index)
        self.ids.start(username)
        now = self.clock()
        user = User(
            user_id=self.ids(),
            username=username,
            nickname=username[:64],
            password_hash=self.password_hash,
            created_at=now,
            last_login_at=now,
        )
        claims = [keys.username_claim(username_key(username))]
        account = Account(provider="password", open_id=user.user_id, created_at=now)
        client = ClientInfo(ip="127.0.0.1", user_agent="localdev-seed")
        tokens = self.sessions.new(user.user_id, self.app_name, [self.grant], client)
        audit = {
            "action": "register",
            "at": now,
            "id": self.ids(),
            "ip": client.ip,
            "ttl": int(now + self.audit_seconds),
        }
        self.users.create(user, claims, [account], [self.grant], tokens.session, audit)
        return self.table.last.items


# -- loading ---------------------------------------------------------------------------------------------
@dataclass
class Progress:
    total: int
    out: Any = sys.stdout
    started: float = field(default_factory=time.monotonic)
    every: int = 0

    def __post_init__(self) -> None:
        self.every = self.every or max(1000, self.total // 20)

    reported: int = -1

    def report(self, users: int, items: int, force: bool = False) -> None:
        if (force or users % self.every == 0) and users != self.reported:
            self.reported = users
            seconds = time.monotonic() - self.started
            rate = users / seconds if seconds > 0 else 0.0
            print(
                f"seeded {users:,}/{self.total:,} users ({items:,} items) in {seconds:.1f} s, {rate:,.0f} users/s",
                file=self.out,
                flush=True,
            )


def seed(
    endpoint: str,
    table_name: str,
    count: int,
    *,
    start: int = 0,
    prefix: str = DEFAULT_PREFIX,
    password: str = DEFAULT_PASSWORD,
    app_name: str | None = None,
    out: Any = sys.stdout,
) -> int:
    """Write users ``start`` .. ``start + count - 1`` into ``table_name`` at ``endpoint``, but those whose
    username is taken already; returns the items written. Progress goes to ``out`` (None: quiet).

    Into local mode's embedded DynamoDB the items go in chunks of ``CHUNK`` users, put straight into its
    table (``/_localdev/load``); into another DynamoDB with BatchWriteItem, 25 items a request.
    """
    from localdev import dynamo
    from shared.config import Settings
    from shared.services.signing_keys import new_ring_document

    settings = replace(
        Settings.from_env({k: v for k, v in os.environ.items() if k in ("DEFAULT_APP", "DEFAULT_ROLE")}),
        local_mode=True,
        table_name=table_name,
        dynamodb_endpoint=endpoint,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        # access tokens of the seeded sessions are never handed out: any key signs them
        signing_keys_json=json.dumps(new_ring_document()),
        local_outbox=os.devnull,
    )
    users = RegisteredUsers(settings, prefix=prefix, password=password, app_name=app_name)
    embedded = dynamo.status(endpoint) is not None
    size, writers = (CHUNK * 5, 1) if embedded else (BATCH, 3)
    chunks: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=writers * 4)
    failures: list[BaseException] = []
    progress = Progress(count, out) if out is not None else None

    def write() -> None:
        db = dynamo.client(endpoint)
        while (chunk := chunks.get()) is not None:
            try:
                if embedded:
                    body = b"\n".join(json.dumps(item, separators=(",", ":")).encode() for item in chunk)
                    dynamo.admin(endpoint, "load", body=body, table=table_name, region=settings.region)
                else:
                    requests: dict[str, Any] = {table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
                    while requests:
                        requests = db.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            except BaseException as exc:  # reported by the producer, which stops
                failures.append(exc)

    threads = [threading.Thread(target=write, daemon=True) for _ in range(writers)]
    for thread in threads:
        thread.start()
    written = items = 0
    pending: list[dict[str, Any]] = []
    reader = dynamo.client(endpoint)
    try:
        for first in range(start, start + count, LOOKUP):
            indexes = range(first, min(start + count, first + LOOKUP))
            seeded = already_seeded(reader, table_name, [users.username(index) for index in indexes])
            for index in indexes:
                if failures:
                    raise failures[0]
                built = [] if users.username(index) in seeded else users.items(index)
                pending.extend(built)
                if len(pending) >= size:
                    chunks.put(pending)
                    pending = []
                written, items = written + 1, items + len(built)
                if progress is not None:
                    progress.report(written, items)
        if pending:
            chunks.put(pending)
    finally:
        for _ in threads:
            chunks.put(None)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    if progress is not None:
        progress.report(written, items, force=True)
    return items


def already_seeded(db: Any, table_name: str, usernames: list[str]) -> set[str]:
    """Those of ``usernames`` whose claim exists (one BatchGetItem for up to 100)."""
    from shared.db import keys
    from shared.identifiers import username_key

    claims = {keys.username_claim(username_key(name)): name for name in usernames}
    request: dict[str, Any] = {
        table_name: {
            "Keys": [{"PK": {"S": claim}, "SK": {"S": keys.CLAIM}} for claim in claims],
            "ProjectionExpression": "PK",
        }
    }
    found: set[str] = set()
    while request:
        answer = db.batch_get_item(RequestItems=request)
        found.update(claims[item["PK"]["S"]] for item in answer["Responses"].get(table_name, []))
        request = answer.get("UnprocessedKeys") or {}
    return found


# -- where to -------------------------------------------------------------------------------------------
def running_server(data_dir: Path) -> dict[str, Any] | None:
    """The local server running on ``data_dir`` (what its ``server.json`` says), or None."""
    path = data_dir / SERVER_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info


@dataclass
class Target:
    endpoint: str
    table: str


@contextmanager
def target(data_dir: Path, table_name: str, endpoint: str | None, out: Any) -> Iterator[Target]:
    """The DynamoDB to seed: ``endpoint`` when given, a running local server's, or the snapshot's."""
    if endpoint:
        yield Target(endpoint, table_name)
        return
    server = running_server(data_dir)
    if server is not None:
        print(f"seeding the running local server (pid {server['pid']}, {server['url']})", file=out, flush=True)
        yield Target(str(server["dynamodb_endpoint"]), str(server["table"]))
        return
    from localdev import dynamo
    from localdev.template import read_api

    snapshot = data_dir / "dynamodb.json"
    print(f"no local server running: seeding the snapshot {snapshot}", file=out, flush=True)
    embedded = dynamo.EmbeddedDynamo()
    local = embedded.start()
    try:
        dynamo.ensure_table(local, table_name, read_api().table_properties)
        restored = dynamo.restore(local, table_name, snapshot)
        if restored:
            print(f"loaded {restored:,} items from the snapshot", file=out, flush=True)
        yield Target(local, table_name)
        saved = dynamo.snapshot(local, table_name, snapshot)
        print(f"wrote {saved:,} items to {snapshot}", file=out, flush=True)
    finally:
        embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="how many users (usernames <prefix>000000 ...)")
    parser.add_argument("--start", type=int, default=0, help="first user number (default 0)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"username prefix (default {DEFAULT_PREFIX})")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="their password (default %(default)s)")
    parser.add_argument("--app", default=None, help="the app they sign up to (default DEFAULT_APP, app0)")
    parser.add_argument("--endpoint", default=None, help="seed this DynamoDB endpoint instead")
    parser.add_argument("--table", default=None, help="table name (default TABLE_NAME, user-center-<stage>)")
    args = parser.parse_args(argv)
    from localdev.template import ROOT

    data_dir = Path(os.environ.get("LOCAL_DATA_DIR", str(ROOT / ".local")))
    table_name = args.table or os.environ.get("TABLE_NAME") or f"user-center-{os.environ.get('STAGE', 'dev')}"
    with target(data_dir, table_name, args.endpoint, sys.stdout) as where:
        seed(
            where.endpoint,
            where.table,
            args.count,
            start=args.start,
            prefix=args.prefix,
            password=args.password,
            app_name=args.app,
        )
    first, last = args.start, args.start + args.count - 1
    print(f"users {args.prefix}{first:06d}..{args.prefix}{last:06d} sign in with password {args.password!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
