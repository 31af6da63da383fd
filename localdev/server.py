"""`make run`: the whole API on http://127.0.0.1:$PORT (default 3000), as API Gateway would serve it.

Local mode (API.md section 10): embedded DynamoDB (moto) unless ``DYNAMODB_ENDPOINT`` is set, the table
created from template.yaml, data kept under ``.local/`` across normal restarts (``LOCAL_RESET=1``
starts empty), a generated dev signing key, the authorizer cache at 0 unless configured, and an
``ADMIN_USERNAME``/``ADMIN_PASSWORD`` super admin created once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from localdev import dynamo
from localdev.gateway import Gateway
from localdev.template import ROOT, Api, read_api
from localdev.workers import FunctionPool

SNAPSHOT_SECONDS = 30  # LOCAL_SNAPSHOT_SECONDS changes it
SERVER_FILE = "server.json"  # where a running server says where it is (localdev/seed.py reads it)


class HttpServer(ThreadingHTTPServer):
    """A thread per request, and a listen backlog big enough for bursts (the default is 5)."""

    request_queue_size = 256
    daemon_threads = True


class LocalServer:
    """Everything `make run` starts, as one object the tests can start and stop too."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.port = int(self.env.get("PORT", "3000"))
        self.host = self.env.get("HOST", "127.0.0.1")
        self.data_dir = Path(self.env.get("LOCAL_DATA_DIR", str(ROOT / ".local")))
        self.stage = self.env.get("STAGE", "dev")
        self.table_name = self.env.get("TABLE_NAME", f"user-center-{self.stage}")
        self.embedded: dynamo.EmbeddedDynamo | None = None
        self.endpoint = self.env.get("DYNAMODB_ENDPOINT") or None
        self.pools: dict[str, FunctionPool] = {}
        self.httpd: ThreadingHTTPServer | None = None
        self.extra_servers: dict[str, ThreadingHTTPServer] = {}
        # Other teams' APIs served beside this one (e.g. examples/consumer-api/template.yaml)
        self.extra_templates = [t for t in self.env.get("LOCAL_EXTRA_TEMPLATES", "").split(",") if t.strip()]
        self._stop = threading.Event()
        self._snapshot_thread: threading.Thread | None = None
        self.snapshot_seconds = float(self.env.get("LOCAL_SNAPSHOT_SECONDS") or SNAPSHOT_SECONDS)

    @property
    def snapshot_file(self) -> Path:
        return self.data_dir / "dynamodb.json"

    @property
    def url(self) -> str:
        if self.httpd is None:
            raise RuntimeError("the server is not started")
        return self._url_of(self.httpd)

    def start(self) -> str:
        if self.env.get("LOCAL_RESET") == "1" and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        overrides = {
            "Stage": self.stage,
            "AuthorizerCacheTtl": self.env.get("AUTHORIZER_CACHE_TTL", "0"),
        }
        api = read_api(overrides)
        if self.endpoint is None:
            # LOCAL_MOTO_UNPATCHED=1 in self.env reaches it: moto as released, for comparison
            self.embedded = dynamo.EmbeddedDynamo(separate_process=True, environment=self.env)
            self.endpoint = self.embedded.start()
            dynamo.ensure_table(self.endpoint, self.table_name, api.table_properties)
            dynamo.restore(self.endpoint, self.table_name, self.snapshot_file)
        else:
            dynamo.ensure_table(self.endpoint, self.table_name, api.table_properties)

        extras = {Path(t).resolve().parent.name: read_api(path=Path(t)) for t in self.extra_templates}
        environment = self.function_environment()
        from buildtools.openapi import route_map

        environment["ROUTE_REQUIREMENTS"] = json.dumps(route_map())
        environment["ROUTE_MAPS"] = json.dumps(
            {api_id: extra.registered_route_map for api_id, extra in extras.items() if extra.registered_route_map}
        )
        cache_ttl = int(self.env.get("AUTHORIZER_CACHE_TTL", "0"))
        for served in (api, *extras.values()):
            self._start_pools(served, environment)
            for authorizer in served.authorizers.values():
                authorizer.cache_ttl = cache_ttl  # local mode: 0 unless configured
        warmers = [threading.Thread(target=pool.warm) for pool in self.pools.values()]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()

        self.bootstrap_admin(environment)
        self.httpd = self._serve(Gateway(api, self.pools, self.stage), self.port)
        for offset, (api_id, extra) in enumerate(extras.items(), start=1):
            # Another team's API: its authorizer is this stack's exported one.
            own_authorizer = self.pools[next(iter(api.authorizers.values())).function]
            pools = {**self.pools, **{a.function: own_authorizer for a in extra.authorizers.values()}}
            port = self.port + offset if self.port else 0
            httpd = self._serve(Gateway(extra, pools, self.stage, api_id=api_id), port)
            self.extra_servers[api_id] = httpd
            print(f"{api_id} (example consumer API) is running at {self._url_of(httpd)}", flush=True)
        if self.embedded is not None:
            self._snapshot_thread = threading.Thread(target=self._snapshot_loop, daemon=True)
            self._snapshot_thread.start()
        self._write_server_file()
        return self.url

    @property
    def server_file(self) -> Path:
        return self.data_dir / SERVER_FILE

    def _write_server_file(self) -> None:
        """Say where this server and its DynamoDB are (``make seed`` loads users into a running server)."""
        info = {"pid": os.getpid(), "url": self.url, "dynamodb_endpoint": self.endpoint, "table": self.table_name}
        tmp = self.server_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.server_file)

    def _start_pools(self, api: Api, environment: dict[str, str]) -> None:
        max_workers = int(self.env.get("LOCAL_CONCURRENCY", "4"))
        for name, function in api.functions.items():
            # The template's values for settings are AWS's; local mode replaces those it sets or was given.
            overrides = {*setting_variables(), "POWERTOOLS_LOG_LEVEL"}
            function.environment.update({k: v for k, v in environment.items() if k in overrides})
            self.pools[name] = FunctionPool(function, environment, max_workers)

    def _serve(self, gateway: Gateway, port: int) -> ThreadingHTTPServer:
        httpd = HttpServer((self.host, port), _handler_class(gateway))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    def _url_of(self, httpd: ThreadingHTTPServer) -> str:
        return f"http://{self.host}:{httpd.server_address[1]}"

    def extra_url(self, api_id: str) -> str:
        return self._url_of(self.extra_servers[api_id])

    def function_environment(self) -> dict[str, str]:
        """What every local "container" gets besides its template variables."""
        # Every setting given to `make run` reaches the functions, as template.yaml sets them in AWS.
        env = {k: v for k, v in self.env.items() if k in setting_variables() and k not in SERVER_SET}
        env.update(
            {
                "LOCAL_MODE": "1",
                "STAGE": self.stage,
                "TABLE_NAME": self.table_name,
                "DYNAMODB_ENDPOINT": self.endpoint or "",
                "AWS_ACCESS_KEY_ID": self.env.get("AWS_ACCESS_KEY_ID", "local"),
                "AWS_SECRET_ACCESS_KEY": self.env.get("AWS_SECRET_ACCESS_KEY", "local"),
                "AWS_DEFAULT_REGION": self.env.get("AWS_REGION", "us-east-1"),
                "AWS_REGION": self.env.get("AWS_REGION", "us-east-1"),
                "SIGNING_KEYS_FILE": self.env.get("SIGNING_KEYS_FILE", str(self.data_dir / "signing-keys.json")),
                "SIGNING_KEYS_PARAMETER": "",
                # TOTP secrets sealed with a local AES key (KMS in AWS), generated on first use.
                "MFA_KEY_FILE": self.env.get("MFA_KEY_FILE", str(self.data_dir / "mfa.key")),
                "MFA_KMS_KEY_ID": "",
                # One process per function locally: a change made through one is seen by the others at once.
                "APP_SETTINGS_CACHE_SECONDS": self.env.get("APP_SETTINGS_CACHE_SECONDS", "0"),
                "ROUTE_MAPS_PARAMETER_PREFIX": "",
                "WECHAT_SECRETS_SSM": "false",
                "LOCAL_OUTBOX": self.env.get("LOCAL_OUTBOX", str(self.data_dir / "outbox.jsonl")),
                "POWERTOOLS_TRACE_DISABLED": "1",
                "POWERTOOLS_METRICS_DISABLED": self.env.get("POWERTOOLS_METRICS_DISABLED", "1"),
                "POWERTOOLS_LOG_LEVEL": self.env.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def bootstrap_admin(self, environment: dict[str, str]) -> None:
        """Bring data kept from an earlier version up to date (shared/migrations.py, once), then create the
        ADMIN_USERNAME super admin once (idempotent across restarts)."""
        username, password = self.env.get("ADMIN_USERNAME"), self.env.get("ADMIN_PASSWORD")
        saved = dict(os.environ)
        os.environ.update(environment)
        try:
            from shared.bootstrap import ensure_super_admin
            from shared.config import Settings
            from shared.container import build_services
            from shared.migrations import migrate

            services = build_services(Settings.from_env())
            changed = migrate(services.apps.apps)
            created = ensure_super_admin(services, username, password) if username and password else None
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if changed["roles"] or changed["users"]:
            print(f"local data upgraded: {changed['roles']} roles, {changed['users']} users", flush=True)
        if created is not None:
            print(f"super admin {username!r} {'created' if created else 'already exists'}", flush=True)

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.snapshot_seconds):
            try:
                self.save()
            except Exception as exc:  # reported; the next one may succeed (the last good file stays)
                print(f"could not save local data: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def save(self) -> None:
        if self.embedded is not None and self.endpoint:
            dynamo.snapshot(self.endpoint, self.table_name, self.snapshot_file)

    def stop(self) -> None:
        """Stop serving, write the data snapshot, stop the workers and the embedded DynamoDB."""
        self._stop.set()
        self.server_file.unlink(missing_ok=True)
        for httpd in [self.httpd, *self.extra_servers.values()]:
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()
        try:
            self.save()
        except Exception as exc:  # reported, not raised: stopping must finish
            print(f"could not save local data: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        finally:
            for pool in self.pools.values():
                pool.stop()
            if self.embedded is not None:
                self.embedded.stop()


def setting_variables() -> tuple[str, ...]:
    """Every setting's environment variable (shared.config.Settings declares them, once)."""
    from shared.config import Settings

    return tuple(env for _, env, _, _ in Settings.variables())


# What local mode always sets itself (the rest of the settings pass through from the environment).
SERVER_SET = ("LOCAL_MODE", "STAGE", "TABLE_NAME", "DYNAMODB_ENDPOINT", "AWS_REGION", "SIGNING_KEYS_PARAMETER")


def _handler_class(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "user-center-local"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            response = gateway.handle(self.command, self.path, headers, body, self.client_address[0])
            self.send_response(response.status)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            for cookie in response.cookies:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def __getattr__(self, name: str) -> Any:
            # Every other method (TRACE, QUERY, ...) reaches the gateway stand-in too, as with API
            # Gateway: no route has it, so the answer is the 404 envelope (not http.server's 501 page).
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("LOCAL_ACCESS_LOG", "1") == "1":
                sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    return Handler


def main() -> None:
    server = LocalServer()
    url = server.start()
    print(f"User center is running at {url} (stage {server.stage}; data in {server.data_dir})", flush=True)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    done.wait()
    print("stopping: saving local data", flush=True)
    server.stop()
