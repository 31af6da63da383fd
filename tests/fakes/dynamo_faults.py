"""DynamoDB faults injected at the botocore level (a ``before-send`` handler on every client PynamoDB
creates), so the services, repositories, PynamoDB and botocore's retry logic all run for real."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class DynamoFaults:
    """Makes chosen DynamoDB operations fail: ``throttle`` (HTTP 400 ThrottlingException), ``server`` (HTTP 500)
    or ``timeout`` (a read timeout before any byte reaches the server), ``cancel`` (a transaction cancelled by
    a ``TransactionConflict`` on its first item; other writes pass); or, counting write requests
    (``WRITES``, every attempt), fails the n-th and every later one, or loses the n-th one's answer."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self.attempts: Counter[str] = Counter()
        self.writes = 0  # write requests sent since the last ``count_writes``
        self.from_write: tuple[int, str] | None = None

    def count_writes(self) -> None:
        """Start counting write requests from zero, with no write fault."""
        self.writes, self.from_write = 0, None

    def fail_writes_from(self, n: int, fault: str) -> None:
        """The n-th write request from now (1-based) and every later one meet ``fault``; ``lost`` makes
        only the n-th commit and lose its answer (botocore then retries it, a write of its own)."""
        self.writes, self.from_write = 0, (n, fault)

    def fail(self, operation: str, fault: str) -> None:
        self.rules[operation] = fault

    def lose_answer_once(self, operation: str) -> None:
        """The next ``operation`` reaches DynamoDB and commits, but its answer is lost (a read timeout
        after the write): botocore retries the same request, with the same ``ClientRequestToken``."""
        self.rules[operation] = "commit-then-timeout"

    def clear(self) -> None:
        self.rules.clear()
        self.from_write = None

    def _write_fault(self, operation: str) -> str | None:
        if operation not in WRITES:
            return None
        self.writes += 1
        if self.from_write is None or self.writes < self.from_write[0]:
            return None
        n, fault = self.from_write
        if fault == "lost":
            if self.writes > n:
                return None
            return "commit-then-timeout"
        return fault

    def before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        fault = self._write_fault(operation) or self.rules.get(operation)
        if fault is None:
            return None
        self.attempts[operation] += 1
        if fault == "commit-then-timeout":
            self.rules.pop(operation, None)
            sent = urllib.request.Request(request.url, data=request.body, method=request.method)  # noqa: S310
            for name, value in request.headers.items():
                sent.add_header(name, value.decode() if isinstance(value, bytes) else value)
            with urllib.request.urlopen(sent, timeout=10) as answer:  # noqa: S310 - the local endpoint
                answer.read()
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        extra: dict[str, Any] = {}
        if fault == "cancel":
            if operation != "TransactWriteItems":
                return None
            items = len(json.loads(request.body)["TransactItems"])
            reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
            extra = {"CancellationReasons": reasons + [{"Code": "None"}] * (items - 1)}
            status, code = 400, "TransactionCanceledException"
        else:
            status, code = (400, "ThrottlingException") if fault == "throttle" else (500, "InternalServerError")
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected", **extra}
        ).encode()
        headers = {"x-amzn-RequestId": "injected-fault", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Body(body))
