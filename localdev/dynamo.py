"""The embedded DynamoDB of local mode (moto's server) and the table built from template.yaml.

Local data survives normal restarts: the table is written to ``.local/dynamodb.json`` on shutdown
(and every ``LOCAL_SNAPSHOT_SECONDS`` while running) and loaded again at start. The file holds DynamoDB's
own typed JSON (the low-level API's AttributeValue maps, binary as base64), so every item comes back
exactly: sets stay sets, binary stays binary, and numbers keep all their digits (``10**40``, ``1.5``).
It is written to a temporary file renamed over the old one once complete, one item per line, so that a
large table is written and read item by item.

The embedded server runs moto with the patches of :mod:`localdev.moto_patches` (cost per request
independent of the table's size) and answers a few requests of its own under ``/_localdev/``: write a
snapshot, load one, load items (seeding), and its status. In its own process (local mode), it dies with
the local server however that ends (a parent-death signal, and a watchdog on the parent's pid).
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3

from localdev.template import create_table_kwargs, ttl_attribute

REGION = "us-east-1"
ADMIN = "/_localdev/"
ACCOUNT = "123456789012"  # moto's default account, the one its server answers for


def serialized_app() -> Any:
    """moto's WSGI app behind one lock: each request runs alone, as DynamoDB makes each call atomic.

    moto's own threaded server runs requests in parallel on unlocked in-memory tables; two transactions
    can then interleave (one's rollback undoing another's commit), which real DynamoDB never does.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from localdev import moto_patches

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def locked(environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("PATH_INFO", "")).startswith(ADMIN):
            return _admin(environ, start_response, lock)
        with lock:
            try:
                return list(app(environ, start_response))
            finally:
                moto_patches.end_request()  # pack again the items this request used

    return locked


def make_server(host: str, port: int) -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    from localdev import moto_patches

    moto_patches.apply()  # before the first table exists; refuses a moto it was not written for

    # moto logs every request through werkzeug; local mode and tests do not need that noise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return werkzeug_server(host, port, serialized_app(), threaded=True, request_handler=MotoRequestHandler)


# -- the server's own requests ----------------------------------------------------------------------------
def _admin(environ: dict[str, Any], start_response: Any, lock: threading.Lock) -> list[bytes]:
    """``/_localdev/<action>?table=<name>&region=<region>[&path=<file>]``: snapshot, restore, load, status."""
    from localdev import moto_patches

    action = str(environ["PATH_INFO"])[len(ADMIN) :]
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
    code, answer = "200 OK", dict[str, Any]()
    try:
        if action == "status":
            answer = {"pid": os.getpid(), "patched": moto_patches.applied(), "rss_bytes": resident_memory()}
        elif action in ("snapshot", "restore", "load"):
            table_name, region = query["table"], query.get("region", REGION)
            if action == "snapshot":
                with lock:
                    items = moto_patches.dump_items(_table(table_name, region))
                answer = {"items": write_snapshot(Path(query["path"]), table_name, items)}
            else:
                if action == "restore":
                    source: Iterable[dict[str, Any]] = read_snapshot(Path(query["path"]))
                else:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    body = environ["wsgi.input"].read(length) if length else b""
                    source = (json.loads(line) for line in body.splitlines() if line.strip())
                with lock:
                    try:
                        answer = {"items": moto_patches.load_items(_table(table_name, region), source)}
                    finally:
                        moto_patches.end_request()
                        # what is loaded stays: out of the cyclic collector's full passes (long pauses)
                        gc.collect()
                        gc.freeze()
        else:
            code, answer = "404 Not Found", {"error": f"no such action: {action}"}
    except (KeyError, ValueError, OSError) as exc:
        code, answer = "400 Bad Request", {"error": f"{type(exc).__name__}: {exc}"}
    body = json.dumps(answer).encode("utf-8")
    start_response(code, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _table(name: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[ACCOUNT][region].tables
    if name not in tables:
        raise KeyError(f"no table {name!r}")
    return tables[name]


def resident_memory(pid: int | None = None) -> int:
    """Resident memory of a process (this one by default), in bytes; 0 where /proc is not there."""
    try:
        status = Path(f"/proc/{pid or os.getpid()}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def admin(endpoint: str, action: str, timeout: float = 600, body: bytes | None = None, **query: str) -> Any:
    """Call the embedded server's own API (``/_localdev/<action>``); None when ``endpoint`` is another
    DynamoDB, which has no such API.

    Raises:
        OSError: the embedded server could not read or write a file (the message says which).
        RuntimeError: it refused the request for another reason.
    """
    if action != "status" and status(endpoint) is None:
        return None
    url = f"{endpoint}{ADMIN}{action}?{urllib.parse.urlencode(query)}"
    method = "GET" if action == "status" else "POST"
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", str(exc))
        if detail.startswith(("OSError", "FileNotFoundError", "PermissionError")):
            raise OSError(f"the embedded DynamoDB could not {action}: {detail}") from exc
        raise RuntimeError(f"the embedded DynamoDB refused {action}: {detail}") from exc


def status(endpoint: str) -> dict[str, Any] | None:
    """The embedded server's pid, resident memory and whether moto runs patched; None for another
    DynamoDB."""
    try:
        with urllib.request.urlopen(f"{endpoint}{ADMIN}status", timeout=10) as response:  # noqa: S310 - loopback
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) and "pid" in answer else None


class EmbeddedDynamo:
    """moto's DynamoDB on a free loopback port, one request at a time (see :func:`serialized_app`).

    In this process (a thread) for the unit tests; in its own process for local mode, so that each
    local server has its own state (moto keeps its data in process-wide globals) and it dies with it.
    ``environment`` is the child process's (default: this process's).
    """

    def __init__(self, separate_process: bool = False, environment: dict[str, str] | None = None) -> None:
        self.separate_process = separate_process
        self.environment = environment
        self.endpoint = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process serving it (this one when it runs in a thread)."""
        return self._process.pid if self._process is not None else os.getpid()

    def start(self) -> str:
        if self.separate_process:
            port = _free_port()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "localdev.dynamo", str(port), str(os.getpid())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=str(Path(__file__).resolve().parent.parent),
                env=self.environment,
                # Its own session: Ctrl-C reaches only the local server, which saves the data first
                # and then stops this process.
                start_new_session=True,
            )
            self.endpoint = f"http://127.0.0.1:{port}"
            _wait_until_up(self.endpoint, self._process)
            return self.endpoint
        self._server = make_server("127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.endpoint

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the embedded DynamoDB (moto server) exited at start")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the embedded DynamoDB (moto server) did not start")


def _die_with(parent: int) -> None:
    """End this process when ``parent`` (the local server) ends, however it ends, SIGKILL included.

    Linux sends the parent-death signal when the thread that started this process exits: the local
    server starts it from its main thread. The watchdog covers other systems and the moment before
    prctl took effect.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def client(endpoint: str | None) -> Any:
    """A low-level DynamoDB client for ``endpoint`` (None: real AWS)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", REGION))


def ensure_table(endpoint: str | None, table_name: str, table_properties: dict[str, Any]) -> bool:
    """Create the table from the template's definition unless it exists; True when created."""
    dynamodb = client(endpoint)
    if table_name in dynamodb.list_tables().get("TableNames", []):
        return False
    dynamodb.create_table(**create_table_kwargs(table_properties, table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1})
    ttl = ttl_attribute(table_properties)
    if ttl:
        dynamodb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    return True


# -- the snapshot file ------------------------------------------------------------------------------------
SNAPSHOT_FORMAT = "dynamodb-json/1"


def snapshot(endpoint: str, table_name: str, path: Path) -> int:
    """Write every item of the table to ``path``; returns the item count.

    The embedded server writes it itself (from its memory, without a Scan); another endpoint is scanned.
    Either way the file is written beside ``path`` and renamed over it only once complete and flushed to
    disk, so a failure part way (a full disk, an item that cannot be written, a crash) leaves the previous
    snapshot as it was.
    """
    path = path.resolve()
    answer = admin(endpoint, "snapshot", table=table_name, region=_region(), path=str(path))
    if answer is not None:
        return int(answer["items"])
    return write_snapshot(path, table_name, _scanned(endpoint, table_name))


def _scanned(endpoint: str, table_name: str) -> Iterator[bytes]:
    for page in client(endpoint).get_paginator("scan").paginate(TableName=table_name):
        for item in page["Items"]:
            yield _dumps({name: _to_json(value) for name, value in item.items()})


def _dumps(item: dict[str, Any]) -> bytes:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_snapshot(path: Path, table_name: str, items: Iterable[bytes]) -> int:
    """Write a snapshot of ``items`` (each one item's typed JSON, UTF-8) atomically; returns how many.

    The file is one JSON document, an item per line::

        {"format": "dynamodb-json/1", "table": "<name>", "items": [
        {"PK": {"S": "..."}, ...},
        ...
        ]}
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            header = {"format": SNAPSHOT_FORMAT, "table": table_name}
            handle.write(json.dumps(header, ensure_ascii=False)[:-1].encode("utf-8") + b', "items": [\n')
            count = _write_items(handle, items)
            handle.write(b"\n]}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _write_items(handle: Any, items: Iterable[bytes]) -> int:
    count = 0
    for item in items:
        if count:
            handle.write(b",\n")
        handle.write(item)
        count += 1
    return count


def read_snapshot(path: Path) -> Iterator[dict[str, Any]]:
    """The items of a snapshot (:func:`write_snapshot`'s, or the earlier single-line typed JSON), one at a
    time.

    Raises:
        ValueError: not a snapshot of this format.
    """
    with path.open("rb") as handle:
        first = handle.readline()
        if first.rstrip().endswith(b"["):  # an item per line
            if json.loads(first.rstrip()[:-1] + b"[]}").get("format") != SNAPSHOT_FORMAT:
                raise ValueError(f"{path}: unknown snapshot format")
            for line in handle:
                line = line.strip()
                if line.endswith(b","):
                    line = line[:-1]
                if line and line != b"]}":
                    yield json.loads(line)
            return
        handle.seek(0)
        document = json.load(handle)
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"{path}: unknown snapshot format")
    yield from document["items"]


def restore(endpoint: str, table_name: str, path: Path) -> int:
    """Load items written by :func:`snapshot`; returns the item count (0 when there is no file).

    The embedded server reads the file itself and puts the items straight into its table; another
    endpoint gets them with BatchWriteItem. Files of the earlier plain-JSON format (a bare list of items)
    are still read, as they were written.
    """
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        plain = handle.read(1) == b"["
    if plain:
        return _restore_plain(endpoint, table_name, json.loads(path.read_text(encoding="utf-8")))
    answer = admin(endpoint, "restore", table=table_name, region=_region(), path=str(path.resolve()))
    if answer is not None:
        return int(answer["items"])
    dynamodb = client(endpoint)
    count = 0
    batch: list[dict[str, Any]] = []
    for item in read_snapshot(path):
        batch.append({name: _from_json(value) for name, value in item.items()})
        count += 1
        if len(batch) == 25:  # BatchWriteItem's limit
            _batch_write(dynamodb, table_name, batch)
            batch = []
    if batch:
        _batch_write(dynamodb, table_name, batch)
    return count


def _batch_write(dynamodb: Any, table_name: str, items: list[dict[str, Any]]) -> None:
    requests: dict[str, Any] = {table_name: [{"PutRequest": {"Item": item}} for item in items]}
    while requests:
        requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}


def _region() -> str:
    return os.environ.get("AWS_REGION", REGION)


def _to_json(value: dict[str, Any]) -> dict[str, Any]:
    """One AttributeValue as the low-level client returns it, made JSON-safe (binary as base64)."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode("ascii") for item in inner]}
    if kind == "M":
        return {"M": {name: _to_json(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [_to_json(item) for item in inner]}
    return {kind: inner}  # S, N (a string: every digit kept), SS, NS, BOOL, NULL


def _from_json(value: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_to_json`."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(item) for item in inner]}
    if kind == "M":
        return {"M": {name: _from_json(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [_from_json(item) for item in inner]}
    return {kind: inner}


def _restore_plain(endpoint: str, table_name: str, items: list[dict[str, Any]]) -> int:
    """Items of the earlier format: plain JSON values, numbers as JSON numbers."""
    from decimal import Decimal

    def value_of(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, dict):
            return {k: value_of(v) for k, v in value.items()}
        if isinstance(value, list):
            return [value_of(v) for v in value]
        return value

    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=_region()).Table(table_name)
    with table.batch_writer() as writer:
        for item in items:
            writer.put_item(Item={k: value_of(v) for k, v in item.items()})
    return len(items)


if __name__ == "__main__":  # the separate-process embedded DynamoDB of local mode: port, parent pid
    if len(sys.argv) > 2:
        _die_with(int(sys.argv[2]))
    make_server("127.0.0.1", int(sys.argv[1])).serve_forever()
