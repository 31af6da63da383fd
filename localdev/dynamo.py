"""The embedded DynamoDB of local mode (moto's server) and the table built from template.yaml.

Local data survives normal restarts: the table is written to ``.local/dynamodb.json`` on shutdown
(and every ``SNAPSHOT_SECONDS`` while running) and loaded again at start.
"""

from __future__ import annotations

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
from boto3.dynamodb.types import TypeDeserializer

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


def snapshot(endpoint: str, table_name: str, path: Path) -> int:
    """Write every item of the table to ``path`` (atomically); returns the item count."""
    dynamodb = client(endpoint)
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        items.extend({k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(items, handle, default=_encode, ensure_ascii=False)
    os.replace(tmp, path)
    return len(items)


def restore(endpoint: str, table_name: str, path: Path) -> int:
    """Load items written by :func:`snapshot`; returns the item count (0 when there is no file)."""
    if not path.exists():
        return 0
    items = json.loads(path.read_text(encoding="utf-8"), parse_float=_decimal)
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", REGION)).Table(
        table_name
    )
    with table.batch_writer() as writer:
        for item in items:
            writer.put_item(Item={k: _restore_value(v) for k, v in item.items()})
    return len(items)


def _decimal(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def _encode(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(type(value).__name__)


def _restore_value(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _restore_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_value(v) for v in value]
    return value


if __name__ == "__main__":  # the separate-process embedded DynamoDB of local mode
    make_server("127.0.0.1", int(sys.argv[1])).serve_forever()
