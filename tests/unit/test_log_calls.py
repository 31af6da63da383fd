"""Every ``logger.x(..., extra={...})`` on a request path uses keys that logging accepts: a reserved
LogRecord attribute (``created``, ``message``...) raises KeyError, which would turn a success into a 500."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESERVED = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {"message", "asctime"}


def extra_keys() -> list[tuple[str, int, str]]:
    found = []
    for path in [*ROOT.glob("functions/*/*.py"), *ROOT.glob("shared/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for keyword in node.keywords:
                    if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                        for key in keyword.value.keys:
                            if isinstance(key, ast.Constant):
                                found.append((str(path.relative_to(ROOT)), node.lineno, str(key.value)))
    return found


def test_log_extra_keys_are_not_reserved() -> None:
    keys = extra_keys()
    assert len(keys) > 10  # the scan does find the log calls
    assert [k for k in keys if k[2] in RESERVED] == []
