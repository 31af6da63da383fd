"""The request being served, for what is derived from it: the idempotency tokens of its transactions.

The HTTP edge calls :func:`begin_request` with API Gateway's ``requestContext.requestId`` before a request
reaches the services; :func:`next_transaction_token` then gives each transaction of that request its own
``ClientRequestToken``. DynamoDB answers a transaction repeated with a token it committed less than 10
minutes ago with success and writes nothing again, so a commit whose answer was lost (a timeout, a retry)
is not mistaken for a conflict. Outside a request there is no token: botocore generates one per call, which
its own retries of that call reuse.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

TOKEN_LENGTH = 36  # DynamoDB's limit for a ClientRequestToken


@dataclass
class _Scope:
    request_id: str
    transactions: int = 0


_current: ContextVar[_Scope | None] = ContextVar("request_scope", default=None)


def begin_request(request_id: str | None) -> None:
    """Serve one request from now on in this context (``None`` or ``""``: no request, no tokens)."""
    _current.set(_Scope(request_id) if request_id else None)


def next_transaction_token() -> str | None:
    """The token of the request's next transaction: the first 36 hex digits of
    ``sha256(request id + ":" + n)`` for its n-th transaction (1, 2, ...); None outside a request.

    The same request served again derives the same tokens in the same order, and every transaction of one
    request gets its own (a transaction retried after a conflict is a new attempt, with a new token).
    """
    scope = _current.get()
    if scope is None:
        return None
    scope.transactions += 1
    return hashlib.sha256(f"{scope.request_id}:{scope.transactions}".encode()).hexdigest()[:TOKEN_LENGTH]
