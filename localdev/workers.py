"""Lambda "containers" for local mode: one worker process per concurrent invocation of a function.

As in Lambda, each worker runs one invocation at a time with the function's own environment
(Globals plus the function's variables from template.yaml), imports the handler once and keeps its
module state warm between invocations. Several workers per function give real concurrency, which is
what the concurrency tests exercise through HTTP.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from localdev.template import ROOT, Function


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local"
    aws_request_id: str = ""
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class InvocationError(Exception):
    """The handler raised; ``message`` is the exception's message (API Gateway reads "Unauthorized")."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


def _worker_main(function: Function, environment: dict[str, str], conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the local server's to handle
    os.environ.update(environment)
    os.environ.update(function.environment)
    # The function's code, then the layer's package (shared/ at the root), then the SDK that other
    # teams' functions copy in at build time (examples/consumer-api).
    sys.path[:0] = [str(function.code_dir), str(ROOT), str(ROOT / "sdk" / "python")]
    module_name, handler_name = function.handler.rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(
        f"local_{function.name}_{module_name}", function.code_dir / f"{module_name}.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {function.handler} from {function.code_dir}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, handler_name)
    conn.send(("ready", None))
    while True:
        try:
            event = conn.recv()
        except EOFError:
            return
        if event is None:
            return
        context = LambdaContext(function_name=function.name, aws_request_id=str(uuid.uuid4()))
        try:
            conn.send(("ok", handler(event, context)))
        except Exception as exc:
            traceback.print_exc()
            conn.send(("error", (type(exc).__name__, str(exc))))


class _Worker:
    def __init__(self, function: Function, environment: dict[str, str]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(function, environment, child), daemon=True)
        self.process.start()
        child.close()
        status, _ = self.conn.recv()
        if status != "ready":
            raise RuntimeError(f"worker for {function.name} failed to start")

    def invoke(self, event: dict[str, Any]) -> Any:
        self.conn.send(event)
        status, payload = self.conn.recv()
        if status == "error":
            raise InvocationError(*payload)
        return payload

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()


class FunctionPool:
    """Idle workers of one function; a busy pool grows up to ``max_workers``."""

    def __init__(self, function: Function, environment: dict[str, str], max_workers: int = 4) -> None:
        self.function = function
        self.environment = environment
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._count = 0
        self._all: list[_Worker] = []
        self._cond = threading.Condition()

    def warm(self) -> None:
        """Start one worker now, so the first request does not pay the cold start."""
        worker = self._spawn()
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _spawn(self) -> _Worker:
        with self._cond:
            self._count += 1
        try:
            worker = _Worker(self.function, self.environment)
        except Exception:
            with self._cond:
                self._count -= 1
            raise
        with self._cond:
            self._all.append(worker)
        return worker

    def invoke(self, event: dict[str, Any]) -> Any:
        worker: _Worker | None = None
        with self._cond:
            while not self._idle and self._count >= self.max_workers:
                self._cond.wait()
            if self._idle:
                worker = self._idle.pop()
        if worker is None:
            worker = self._spawn()
        try:
            result = worker.invoke(event)
        except (EOFError, OSError) as exc:
            with self._cond:  # the "container" died: forget it, like Lambda would
                self._count -= 1
                self._all.remove(worker)
                self._cond.notify()
            raise InvocationError("Runtime.ExitError", "function process exited") from exc
        except InvocationError:
            self._release(worker)
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            workers, self._all, self._idle = list(self._all), [], []
        for worker in workers:
            worker.stop()
