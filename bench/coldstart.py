"""Cold start: wall time of a fresh interpreter that imports a handler and builds what its first request
needs, without any network (no DynamoDB request, no SSM: the key ring is inline JSON).

Each snippet runs in a new ``python -c`` process with the function's environment from template.yaml
(``POWERTOOLS_TRACE_DISABLED=1``, inline signing keys instead of the SSM parameter). Byte-code is cached
in a private ``PYTHONPYCACHEPREFIX`` directory, warmed by one untimed run, so every timed run reads .pyc
files; the snippets run round-robin so that machine noise spreads evenly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent

AUTHORIZER_INIT = """
import functions.authorizer.app as handler
from shared.config import get_settings
from shared.container import get_session_service
get_settings()
handler.route_requirements()
get_session_service().tokens.keys.ring()
"""

ACCOUNT_INIT = """
import functions.account.app as handler
from shared.config import get_settings
from shared.container import get_services
get_settings()
get_services().tokens.keys.ring()
"""


def function_init(module: str, service: str) -> str:
    """Import a function and build what its first request needs (``service`` of the container)."""
    return f"""
import functions.{module}.app as handler
from shared.config import get_settings
from shared.container import get_services
get_settings()
get_services().{service}
"""


NEW_CLIENT = """
from shared.db.models import SessionItem
SessionItem._get_connection().connection.client
"""


@dataclass(frozen=True)
class Snippet:
    label: str
    code: str
    function: str | None = None  # template function whose environment the process gets


SNIPPETS = (
    Snippet("python -c pass", "pass"),
    Snippet('python -c "import boto3"', "import boto3"),
    Snippet("authorizer: import + init", AUTHORIZER_INIT, "AuthorizerFunction"),
    Snippet("authorizer: + DynamoDB client", AUTHORIZER_INIT + NEW_CLIENT, "AuthorizerFunction"),
    Snippet("account: import + init", ACCOUNT_INIT, "AccountFunction"),
    Snippet("account: + DynamoDB client", ACCOUNT_INIT + NEW_CLIENT, "AccountFunction"),
    Snippet("codes: import + init", function_init("codes", "code_flows"), "CodesFunction"),
    Snippet("wechat: import + init", function_init("wechat", "wechat"), "WechatFunction"),
    Snippet("admin: import + init", function_init("admin", "admin"), "AdminFunction"),
    Snippet("center: import + init", function_init("center", "center"), "CenterFunction"),
    Snippet("passkeys: import + init", function_init("passkeys", "passkeys"), "PasskeysFunction"),
    Snippet("docs: import", "import functions.docs.app as handler", "DocsFunction"),
)


def environment(function: str | None, pycache: str) -> dict[str, str]:
    """The process environment: the function's template variables, made runnable without AWS."""
    from buildtools.openapi import route_map
    from localdev.template import read_api
    from shared.services.signing_keys import new_ring_document

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if function is not None:
        env.update(read_api().functions[function].environment)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONPYCACHEPREFIX": pycache,
            # Tracing stays enabled, as in AWS: the lazy tracer skips the X-Ray SDK when unsampled.
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SIGNING_KEYS_PARAMETER": "",
            "SIGNING_KEYS_JSON": json.dumps(new_ring_document()),
            "ROUTE_REQUIREMENTS": json.dumps(route_map()),
        }
    )
    env.setdefault("TABLE_NAME", "user-center-bench")
    return env


def run_once(snippet: Snippet, env: dict[str, str], extra: tuple[str, ...] = ()) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *extra, "-c", snippet.code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{snippet.label} failed: {tail[0]}")
    return elapsed, done.stderr


def import_breakdown(stderr: str, top: int = 8) -> list[tuple[str, float]]:
    """Self import time per top-level package from ``-X importtime`` output, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        totals[name.split(".")[0]] += int(self_us) / 1_000_000
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    rest = sum(seconds for _, seconds in ranked[top:])
    return [*ranked[:top], ("(everything else)", rest)]


def run(runs: int) -> dict[str, float]:
    """The section; returns each process's median seconds by its label (the cost model uses them)."""
    report.heading(f"2. Cold start: fresh process, import + init without network (median of {runs})")
    samples: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        envs = {snippet.label: environment(snippet.function, pycache) for snippet in SNIPPETS}
        for snippet in SNIPPETS:  # warm the byte-code cache; not timed
            run_once(snippet, envs[snippet.label])
        for _ in range(runs):
            for snippet in SNIPPETS:
                samples[snippet.label].append(run_once(snippet, envs[snippet.label])[0])
        authorizer = SNIPPETS[2]
        _, trace = run_once(authorizer, envs[authorizer.label], ("-X", "importtime"))

    medians = {label: report.median(values) for label, values in samples.items()}
    bare = medians[SNIPPETS[0].label]
    boto3 = medians[SNIPPETS[1].label]
    rows = [
        [
            label,
            report.ms(value, 0),
            report.ms(min(samples[label]), 0),
            report.ms(value - bare, 0) if label != SNIPPETS[0].label else "-",
            f"{value / boto3:.2f}×",
        ]
        for label, value in medians.items()
    ]
    report.table(["process", "median", "min", "minus bare python", "vs import boto3"], rows, "<>>>>")
    ratio = medians[SNIPPETS[2].label] / boto3
    print(
        f"  authorizer import + init = {ratio:.2f}× a bare boto3 import  (target ≤ 1.5×)  "
        f"{report.verdict(ratio <= 1.5)}"
    )
    report.note(
        "init = get_settings(), route map, services built, key ring parsed (inline JSON; in AWS it is an SSM "
        "read, not measured). '+ DynamoDB client' also builds the botocore client the first request needs."
    )
    report.note(
        "timed runs read cached .pyc; the layer is built with --no-compile and without __pycache__, so on "
        "Lambda its modules are also compiled on each cold start. Lambda runs python3.14 on arm64, this is "
        f"Python {sys.version.split()[0]}."
    )
    print()
    print("  where the authorizer's import time goes (one run with -X importtime, self time per package):")
    breakdown = import_breakdown(trace)
    total = sum(seconds for _, seconds in breakdown)
    report.table(
        ["package", "self time", "share"],
        [[name, report.ms(seconds), f"{seconds / total:.0%}"] for name, seconds in breakdown],
        "<>>",
        indent=2,
    )
    return medians
