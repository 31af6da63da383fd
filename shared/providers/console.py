"""Local mode's provider: prints each message and appends it to the outbox file (API.md section 10),
where a frontend developer (or an end-to-end test) reads the code. Never used in stage prod."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from shared.clock import Clock, iso, system_clock

_lock = threading.Lock()


class ConsoleSender:
    def __init__(self, channel: str, outbox: str, clock: Clock = system_clock) -> None:
        self.channel = channel
        self.outbox = Path(outbox)
        self.clock = clock

    def send_code(self, to: str, code: str, code_type: str) -> None:
        line = {"channel": self.channel, "to": to, "code": code, "code_type": code_type, "sent_at": iso(self.clock())}
        with _lock:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        print(f"[outbox] {self.channel} to {to}: {code_type} code {code}", file=sys.stderr, flush=True)
