"""What the fake servers share: writing one answer (a client that gave up on a slow answer is ignored)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def reply(handler: BaseHTTPRequestHandler, status: int, content_type: str, data: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except BrokenPipeError:
        pass  # the client gave up (the timeout case)
