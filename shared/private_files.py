"""Local mode's generated secrets (the signing key ring, the key sealing TOTP secrets): files created
once, readable by their owner only (mode 0600), and never overwritten."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: str, make: Callable[[], str]) -> str:
    """The file's text, writing ``make()`` to it first (mode 0600, exclusively) when it is missing."""
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return file.read_text()
