"""bcrypt cost vs hash time on this machine, with the template's default cost marked.

DESIGN.md wants the configured cost near 100 ms on the chosen Lambda size. Lambda gives a function CPU in
proportion to its memory (one full vCPU at 1,769 MB), so a single-threaded hash on a smaller function
takes longer than on one full core; the last column scales by that share, assuming a core as fast as
this machine's (Graviton's differs), so treat it as a rough guide only.
"""

from __future__ import annotations

import time

import bcrypt

from bench import report

COSTS = (10, 11, 12)
FULL_VCPU_MB = 1769
PASSWORD = b"correct horse battery"


def hash_time(cost: int, runs: int) -> float:
    timings = []
    for _ in range(runs):
        salt = bcrypt.gensalt(cost)
        start = time.perf_counter()
        bcrypt.hashpw(PASSWORD, salt)
        timings.append(time.perf_counter() - start)
    return report.median(timings)


def template_defaults() -> tuple[int | None, int | None]:
    """BcryptRounds' default and the AccountFunction's memory (MB) in template.yaml."""
    from localdev.template import load

    template = load()
    rounds = template.get("Parameters", {}).get("BcryptRounds", {}).get("Default")
    memory = template.get("Globals", {}).get("Function", {}).get("MemorySize")
    account = template.get("Resources", {}).get("AccountFunction", {}).get("Properties", {})
    memory = account.get("MemorySize", memory)
    return (int(rounds) if rounds is not None else None, int(memory) if memory is not None else None)


def run(runs: int) -> None:
    default, memory = template_defaults()
    report.heading(f"5. bcrypt cost vs hash time (bcrypt.hashpw, median of {runs})")
    share = min(1.0, memory / FULL_VCPU_MB) if memory else None
    rows = []
    for cost in COSTS:
        seconds = hash_time(cost, runs)
        mark = "template default (BcryptRounds)" if cost == default else ""
        scaled = report.ms(seconds / share, 0) if share else "-"
        rows.append([str(cost), report.ms(seconds, 0), scaled, mark])
    scaled_header = f"est. at {memory} MB (≈{share:.2f} vCPU)" if share else "est. on Lambda"
    report.table(["cost", "this machine", scaled_header, "note"], rows, "<>><")
    if default is not None and default not in COSTS:
        report.note(f"the template default cost is {default}, outside the costs measured here")
    report.note(
        "target: the configured cost near 100 ms on the Lambda size chosen (AccountFunction "
        f"MemorySize {memory} MB); every login and register pays one hash."
    )
