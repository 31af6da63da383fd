"""The embedded DynamoDB of local mode (moto's server) and the table built from template.yaml.

Local data survives normal restarts: the table is written to ``.local/dynamodb.json`` on shutdown
(and every ``SNAPSHOT_SECONDS`` while running) and loaded again at start. The file holds DynamoDB's own
typed JSON (the low-level API's AttributeValue maps, binary as base64), so every item comes back exactly:
sets stay sets, binary stays binary, and numbers keep all their digits (``10**40``, ``1.5``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from localdev.template import create_table_kwargs, ttl_attribute

REGION = "us-east-1"


def serialized_app() -> Any:
    """moto's WSGI app behind one lock: each request runs alone, as DynamoDB makes each call atomic.

    moto's own threaded server runs requests in parallel on unlocked in-memory tables; two transactions
    can then interleave (one's rollback undoing another's commit), which real DynamoDB never does.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def locked(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            return list(app(environ, start_response))

    return locked


def make_server(host: str, port: int) -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    # moto logs every request through werkzeug; local mode and tests do not need that noise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return werkzeug_server(host, port, serialized_app(), threaded=True, request_handler=MotoRequestHandler)


class EmbeddedDynamo:
    """moto's DynamoDB on a free loopback port, one request at a time (see :func:`serialized_app`).

    In this process (a thread) for the unit tests; in its own process for local mode, so that each
    local server has its own state (moto keeps its data in process-wide globals) and it dies with it.
    """

    def __init__(self, separate_process: bool = False) -> None:
        self.separate_process = separate_process
        self.endpoint = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        if self.separate_process:
            port = _free_port()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "localdev.dynamo", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=str(Path(__file__).resolve().parent.parent),
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


SNAPSHOT_FORMAT = "dynamodb-json/1"


def snapshot(endpoint: str, table_name: str, path: Path) -> int:
    """Write every item of the table to ``path``; returns the item count.

    The file is written beside ``path`` and renamed over it only once complete and flushed to disk, so a
    failure part way (a full disk, an item that cannot be written, a crash) leaves the previous
    snapshot as it was.
    """
    dynamodb = client(endpoint)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        items.extend({name: _to_json(value) for name, value in item.items()} for item in page["Items"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": SNAPSHOT_FORMAT, "table": table_name, "items": items}, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(items)


def restore(endpoint: str, table_name: str, path: Path) -> int:
    """Load items written by :func:`snapshot`; returns the item count (0 when there is no file).

    Files of the earlier plain-JSON format (a bare list of items) are still read, as they were written.
    """
    if not path.exists():
        return 0
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, list):
        return _restore_plain(endpoint, table_name, document)
    if document.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"{path}: unknown snapshot format {document.get('format')!r}")
    items = [{name: _from_json(value) for name, value in item.items()} for item in document["items"]]
    dynamodb = client(endpoint)
    for start in range(0, len(items), 25):  # BatchWriteItem's limit
        requests: dict[str, Any] = {table_name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
    return len(items)


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

    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", REGION)).Table(
        table_name
    )
    with table.batch_writer() as writer:
        for item in items:
            writer.put_item(Item={k: value_of(v) for k, v in item.items()})
    return len(items)


if __name__ == "__main__":  # the separate-process embedded DynamoDB of local mode
    make_server("127.0.0.1", int(sys.argv[1])).serve_forever()
