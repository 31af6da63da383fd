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
from collections import deque
from dataclasses import dataclass, field
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
    """Idle workers of one function; a busy pool grows up to ``max_workers``.

    Callers waiting for a worker are served first come, first served: a freed worker goes to the caller
    that has waited longest (a caller arriving meanwhile does not take it), so that under load every
    request waits its turn rather than some waiting without end.
    """

    def __init__(self, function: Function, environment: dict[str, str], max_workers: int = 4) -> None:
        self.function = function
        self.environment = environment
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._count = 0
        self._all: list[_Worker] = []
        self._cond = threading.Condition()
        self._waiting: deque[_Turn] = deque()

    def warm(self) -> None:
        """Start one worker now, so the first request does not pay the cold start."""
        with self._cond:
            self._count += 1
        self._release(self._start())

    def _start(self) -> _Worker:
        """A new worker, already counted in ``_count``."""
        try:
            worker = _Worker(self.function, self.environment)
        except Exception:
            self._forget(None)
            raise
        with self._cond:
            self._all.append(worker)
        return worker

    def _acquire(self) -> _Worker:
        with self._cond:
            if self._idle and not self._waiting:
                return self._idle.pop()
            if self._count < self.max_workers and not self._waiting:
                self._count += 1
                start = True
            else:
                turn = _Turn()
                self._waiting.append(turn)
                start = False
        if start:
            return self._start()
        turn.ready.wait()
        return turn.worker if turn.worker is not None else self._start()

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._acquire()
        try:
            result = worker.invoke(event)
        except (EOFError, OSError) as exc:
            self._forget(worker)  # the "container" died: forget it, like Lambda would
            raise InvocationError("Runtime.ExitError", "function process exited") from exc
        except InvocationError:
            self._release(worker)
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._waiting:
                turn = self._waiting.popleft()
                turn.worker = worker
                turn.ready.set()
            else:
                self._idle.append(worker)

    def _forget(self, worker: _Worker | None) -> None:
        """A worker that died (or never started): its place goes to the first caller waiting, who starts a
        new one."""
        with self._cond:
            if worker is not None and worker in self._all:
                self._all.remove(worker)
            if self._waiting:
                self._waiting.popleft().ready.set()  # no worker handed over: that caller starts one
            else:
                self._count -= 1

    def stop(self) -> None:
        with self._cond:
            workers, self._all, self._idle = list(self._all), [], []
        for worker in workers:
            worker.stop()


@dataclass
class _Turn:
    """A caller waiting for a worker: handed one, or told to start one (``worker`` left None)."""

    ready: threading.Event = field(default_factory=threading.Event)
    worker: _Worker | None = None
