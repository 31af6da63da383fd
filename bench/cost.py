"""What the service costs on AWS (issue 14, DESIGN.md "Quality bars"), from what this run measured, beside
Amazon Cognito's published prices. docs/cost.md explains the model and quotes a run.

Measured here, on the real Lambda handlers against the bench's DynamoDB (bcrypt at the template's cost):
* each flow's CPU time in this process (``time.process_time``: the DynamoDB emulator runs in another
  process, so its work is not counted) and its DynamoDB round trips (``bench.roundtrips``);
* the bytes each invocation logs (Powertools' JSON lines, captured);
* read and write capacity units per flow (``bench.units.Meter``: from item sizes, as DynamoDB bills);
* cold starts: the import + init medians of section 2.

Modelled: Lambda bills wall time, which on AWS is the CPU time scaled by the share of a vCPU the memory
size buys (1,769 MB = one vCPU) plus each DynamoDB round trip's latency (``DYNAMO_MS``); a cold start adds
its init (billed since 2025-08). Prices: us-east-1, read from the AWS pricing pages (``PRICES_AS_OF``);
free tiers are left out except Cognito's, which is part of its price.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.dynamo import Dynamo

PRICES_AS_OF = "2025-11 (aws.amazon.com/<service>/pricing, us-east-1)"
LAMBDA_GB_SECOND = 0.0000133334  # arm64, first 7.5 billion GB-s a month
LAMBDA_REQUEST = 0.20 / 1e6
API_REQUEST = 3.50 / 1e6  # REST API, first 333 million a month
DYNAMO_READ_UNIT = 0.125 / 1e6  # on-demand, since 2024-11
DYNAMO_WRITE_UNIT = 0.625 / 1e6
DYNAMO_GB_MONTH = 0.25 + 0.20  # storage + point-in-time recovery
LOG_GB = 0.50 + 0.03  # ingestion + a month of storage
XRAY_TRACE = 5.00 / 1e6 * 0.05  # 5 % of requests sampled (plus one a second, left out)
PLATFORM_LOG_BYTES = 330  # Lambda's START, END and REPORT lines per invocation
ALARM_METRIC = 0.10  # a month, per metric an alarm reads (an anomaly band counts three)
DASHBOARD = 3.00
CUSTOM_METRIC = 0.30
CUSTOM_METRICS = 20  # ServerErrors per function, sign-ins, codes, providers, the authorizer's denials
COGNITO = {  # per MAU a month, by tier, after the first 10,000 MAU (free); tiers since 2024-11-22
    "Lite": ((100_000, 0.0055), (1_000_000, 0.0046), (10_000_000, 0.00325), (math.inf, 0.0025)),
    "Essentials": ((math.inf, 0.015),),
}
COGNITO_FREE_MAU = 10_000
DYNAMO_MS = 6.0  # a DynamoDB call from Lambda in the same region, single-digit milliseconds
FULL_VCPU_MB = 1769
COLD_SHARE = 0.02  # of invocations: a steady stack keeps its containers warm; 2 % is generous
PROFILE = {"sign-ins": 30, "refreshes": 90, "authorized calls": 1000}
CACHE_HIT = 0.8  # of authorized calls answered from API Gateway's authorizer cache (TTL 300 s)
EVENTS = Path(__file__).resolve().parent.parent / "events"


@dataclass
class Flow:
    name: str
    function: str
    memory_mb: int
    cpu_seconds: float
    round_trips: float
    log_bytes: float
    read_units: float
    write_units: float
    init_seconds: float
    api_requests: int = 1

    def lambda_seconds(self, cold: bool) -> float:
        share = min(1.0, self.memory_mb / FULL_VCPU_MB)
        warm = self.cpu_seconds / share + self.round_trips * DYNAMO_MS / 1000
        return warm + (self.init_seconds if cold else 0.0)

    def cost(self, cold_share: float = COLD_SHARE) -> float:
        seconds = (1 - cold_share) * self.lambda_seconds(False) + cold_share * self.lambda_seconds(True)
        billed = math.ceil(seconds * 1000) / 1000
        return (
            billed * self.memory_mb / 1024 * LAMBDA_GB_SECOND
            + LAMBDA_REQUEST
            + self.api_requests * API_REQUEST
            + self.read_units * DYNAMO_READ_UNIT
            + self.write_units * DYNAMO_WRITE_UNIT
            + (self.log_bytes + PLATFORM_LOG_BYTES) / 1e9 * LOG_GB
            + XRAY_TRACE
        )


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A sample event of events/, as a new request (its own request id: transactions' tokens derive from it)."""
    data: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / name).read_text(encoding="utf-8")))
    data.update(changes)
    if "requestContext" in data:
        data["requestContext"]["requestId"] = str(uuid.uuid4())
    return data


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    """What the handler writes to its log: the logger's lines and the metrics' EMF lines."""
    from shared.observability import logger

    out = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(out)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no application metrics to publish"
            yield out
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def timed(action: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    """Median CPU seconds in this process, round trips and logged bytes of ``action``."""
    from bench import roundtrips

    cpu, trips, logged = [], [], []
    for _ in range(runs):
        with captured() as out:
            started = time.process_time()
            _, measured = roundtrips.measure(action)
            cpu.append(time.process_time() - started)
        trips.append(float(measured.trips))
        logged.append(float(len(out.getvalue().encode())))
    return report.median(cpu), report.median(trips), report.median(logged)


def memory_of(function: str) -> int:
    from localdev.template import load

    template = load()
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    return int(template["Resources"][function]["Properties"].get("MemorySize", default))


def measure(dynamo: Dynamo, cold: dict[str, float], runs: int) -> list[Flow]:
    """The three flows through their real handlers (their Lambda events, as API Gateway sends them)."""
    from bench import roundtrips, units
    from bench.bcrypt_cost import template_defaults
    from buildtools.openapi import route_map
    from functions.account import app as account
    from functions.authorizer import app as authorizer
    from localdev.workers import LambdaContext
    from shared import container
    from shared.domain import ClientInfo
    from shared.services.accounts import RegisterCommand

    os.environ["ROUTE_REQUIREMENTS"] = json.dumps(route_map())  # what the build writes beside the authorizer
    authorizer.route_maps.cache_clear()
    roundtrips.install()
    units.install()
    rounds, _ = template_defaults()
    services = dynamo.fresh_services(bcrypt_rounds=rounds or 10)
    container.override(services)
    context = LambdaContext(function_name="bench", aws_request_id="bench")
    meter = units.Meter(dynamo, services.settings.table_name)
    services.accounts.register(
        RegisterCommand(username="carol", password="correct horse"), ClientInfo("203.0.113.9", "b")
    )
    login_body = json.dumps({"username": "carol", "password": "correct horse"})
    answers: dict[str, Any] = {}

    def sign_in() -> None:
        response = account.lambda_handler(event("account-login.json", body=login_body), context)
        answers["login"] = json.loads(response["body"])["data"]

    def refresh() -> None:
        body = json.dumps({"refresh_token": answers["login"]["refresh_token"]})
        route = {"resource": "/api/auth/token/refresh", "path": "/api/auth/token/refresh/", "body": body}
        refreshed = json.loads(account.lambda_handler(event("account-login.json", **route), context)["body"])
        answers["login"].update(refreshed["data"])

    def authorize() -> None:
        token = f"Bearer {answers['login']['access_token']}"
        assert authorizer.lambda_handler(event("authorizer-token.json", authorizationToken=token), context)

    try:
        flows = []
        for name, function, action, label in (
            ("sign-in (password)", "AccountFunction", sign_in, "account: + DynamoDB client"),
            ("refresh", "AccountFunction", refresh, "account: + DynamoDB client"),
            ("authorized call, cache miss", "AuthorizerFunction", authorize, "authorizer: + DynamoDB client"),
        ):
            cpu, trips, logged = timed(action, runs)
            with captured():
                _, priced = meter.price(action, set)
            write_units = priced.table_write_units + priced.index_write_units
            flows.append(
                Flow(
                    name,
                    function,
                    memory_of(function),
                    cpu,
                    trips,
                    logged,
                    priced.read_units,
                    write_units * 1.0,
                    cold.get(label, 0.6),
                    0 if function == "AuthorizerFunction" else 1,
                )
            )
        return flows
    finally:
        container.override(None)


def alarm_metrics() -> int:
    """The metrics template.yaml's alarms read, as CloudWatch bills alarms (an anomaly band: three)."""
    from localdev.template import load

    count = 0
    for resource in load()["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        metrics = props.get("Metrics", [])
        read = 1 if "MetricName" in props else sum(1 for m in metrics if "MetricStat" in m)
        band = any("ANOMALY_DETECTION_BAND" in m.get("Expression", "") for m in metrics)
        count += read * 3 if band else read
    return count


def fixed_month() -> dict[str, float]:
    """What the stack costs a month whatever its traffic: its alarms, dashboard and custom metrics."""
    return {"alarms": alarm_metrics() * ALARM_METRIC, "dashboard": DASHBOARD, "metrics": CUSTOM_METRICS * CUSTOM_METRIC}


def cognito_month(mau: int, tier: str) -> float:
    """Cognito's price of a month with ``mau`` active users (the first ``COGNITO_FREE_MAU`` free)."""
    total, lower = 0.0, float(COGNITO_FREE_MAU)
    for upper, price in COGNITO[tier]:
        if mau > lower:
            total += (min(mau, upper) - lower) * price
        lower = upper
    return total


def run(dynamo: Dynamo, cold: dict[str, float], runs: int = 15) -> None:
    report.heading("10. Cost on AWS per flow and per month (measured durations and units; docs/cost.md)")
    flows = measure(dynamo, cold, runs)
    rows = []
    for flow in flows:
        rows.append(
            [
                flow.name,
                f"{flow.function.removesuffix('Function')} {flow.memory_mb} MB",
                report.ms(flow.lambda_seconds(False), 0),
                report.ms(flow.lambda_seconds(True), 0),
                f"{flow.round_trips:g}",
                f"{flow.read_units:g} / {flow.write_units:g}",
                f"{flow.log_bytes + PLATFORM_LOG_BYTES:,.0f} B",
                f"${flow.cost() * 1e6:,.2f}",
            ]
        )
    rows.append(["authorized call, cache hit", "API Gateway only", "0 ms", "0 ms", "0", "0 / 0", "0 B", "$0.00"])
    report.table(
        ["flow", "function", "Lambda warm", "cold", "round trips", "RRU / WRU", "logs", "per million"], rows, "<<>>>>>>"
    )
    sign_in, refresh, authorize = (flow.cost() for flow in flows)
    calls = PROFILE["authorized calls"]
    per_user = PROFILE["sign-ins"] * sign_in + PROFILE["refreshes"] * refresh + calls * (1 - CACHE_HIT) * authorize
    uncached = PROFILE["sign-ins"] * sign_in + PROFILE["refreshes"] * refresh + calls * authorize
    report.note(
        f"a month of one active user ({PROFILE['sign-ins']} sign-ins, {PROFILE['refreshes']} refreshes, "
        f"{calls:,} authorized calls, {CACHE_HIT:.0%} from the authorizer cache): ${per_user:.6f} "
        f"(${uncached:.6f} with no cache hit)"
    )
    fixed = sum(fixed_month().values())
    print()
    table = []
    for mau in (10_000, 100_000, 1_000_000):
        ours = mau * per_user + fixed + mau * 4e-6 * DYNAMO_GB_MONTH  # ~4 KB of items per user
        table.append(
            [
                f"{mau:,}",
                f"${ours:,.2f}",
                f"${ours / mau * 1000:,.3f}",
                f"${cognito_month(mau, 'Lite'):,.2f}",
                f"${cognito_month(mau, 'Essentials'):,.2f}",
            ]
        )
    report.table(
        ["monthly active users", "this service", "per 1,000 MAU", "Cognito Lite", "Cognito Essentials"], table, ">>>>>"
    )
    report.note(
        f"this service includes ${fixed:.2f} a month of alarms, dashboard and custom metrics, and storage with "
        f"point-in-time recovery; Cognito's first {COGNITO_FREE_MAU:,} MAU are free; neither counts SMS or e-mail"
    )
    report.note(
        f"prices as of {PRICES_AS_OF}; Lambda time = CPU time here / (memory / {FULL_VCPU_MB} MB) + "
        f"{DYNAMO_MS:g} ms a round trip; {COLD_SHARE:.0%} of invocations cold"
    )
