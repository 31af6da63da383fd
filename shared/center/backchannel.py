"""OpenID Connect Back-Channel Logout: after a sign-out at the center, each client the center session
signed in to gets a signed ``logout_token`` (``sub``, ``sid``) POSTed to its ``backchannel_logout_uri``,
retried, without holding up the browser.

On AWS the center function hands the tokens to itself as an asynchronous invocation (Lambda retries a
failed one twice more); in local mode (and where that hand-off fails) a background thread delivers them.
Each delivery tries three times, 3 s each, with a short backoff.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import requests

from shared.observability import logger
from shared.services.center import SignedOut, SignInCenter

EVENT_KEY = "backchannel_logout"  # an asynchronous invocation's payload: {EVENT_KEY: [notice, ...]}
ATTEMPTS = 3
TIMEOUT = 3.0


@dataclass(frozen=True)
class Notice:
    client_id: str
    uri: str
    logout_token: str


def notices(center: SignInCenter, issuer: str, signed_out: SignedOut | None) -> list[Notice]:
    """A logout token for every client of the ended center session that has a back-channel URI."""
    if signed_out is None:
        return []
    found = []
    for client_id in sorted(signed_out.clients):
        app = center.client(client_id)
        if app is not None and app.backchannel_logout_uri:
            token = center.id_tokens.logout_token(issuer, client_id, signed_out.user_id, signed_out.sid)
            found.append(Notice(client_id, app.backchannel_logout_uri, token))
    return found


def deliver(
    batch: list[Notice],
    post: Callable[..., Any] = requests.post,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = ATTEMPTS,
) -> list[Notice]:
    """POST each notice (form field ``logout_token``) until its client answers 200 or 204; the notices
    that still failed after ``attempts`` tries. Nothing but the client id is logged."""
    failed = []
    for notice in batch:
        for attempt in range(attempts):
            try:
                answer = post(
                    notice.uri, data={"logout_token": notice.logout_token}, timeout=TIMEOUT, allow_redirects=False
                )
                if answer.status_code in (200, 204):
                    break
            except requests.RequestException:
                pass
            if attempt + 1 < attempts:
                sleep(0.5 * 2**attempt)
        else:
            logger.warning("back-channel logout not delivered", extra={"client_id": notice.client_id})
            failed.append(notice)
    return failed


def dispatch(batch: list[Notice], local_mode: bool) -> None:
    """Deliver ``batch`` after the answer: by an asynchronous invocation of this function on AWS, by a
    background thread locally (or when the invocation cannot be made)."""
    if not batch:
        return
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function and not local_mode:
        try:
            import boto3

            payload = json.dumps({EVENT_KEY: [asdict(n) for n in batch]})
            boto3.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=payload)
            return
        except Exception:  # the hand-off failed: deliver from here rather than not at all
            logger.warning("back-channel hand-off failed; delivering in process")
    threading.Thread(target=deliver, args=(batch,), daemon=True).start()


def handle_invocation(event: dict[str, Any]) -> dict[str, int]:
    """An asynchronous invocation carrying notices (never an API Gateway event).

    Raises:
        RuntimeError: some notice was not delivered (Lambda retries the invocation).
    """
    batch = [Notice(**n) for n in event.get(EVENT_KEY) or []]
    failed = deliver(batch)
    if failed:
        raise RuntimeError(f"{len(failed)} back-channel logout(s) not delivered")
    return {"delivered": len(batch)}
