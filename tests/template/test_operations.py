"""template.yaml as an operator runs it (issue 14): every function's logs kept for a set time and watched
by alarms, service-wide alarms on the API, the table, the providers and attack spikes, one dashboard, a
custom domain, and a shared layer without an imaging library."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from localdev.template import ROOT, load

SPIKES = ("LoginFailures", "AuthorizerDenied")


def resources() -> dict[str, Any]:
    return dict(load()["Resources"])


def functions() -> dict[str, Any]:
    return {n: r for n, r in resources().items() if r["Type"] == "AWS::Serverless::Function"}


def alarms() -> dict[str, Any]:
    return {n: r for n, r in resources().items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def watched(alarm: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(namespace, metric, dimensions) of every metric an alarm reads."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"], props.get("Dimensions", []))]
    stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    return [(m["Namespace"], m["MetricName"], m.get("Dimensions", [])) for m in stats]


def on_function(alarm: dict[str, Any], function: str) -> set[str]:
    return {
        metric for _, metric, dims in watched(alarm) if {"Name": "FunctionName", "Value": {"Ref": function}} in dims
    }


def test_every_function_logs_to_its_own_group_kept_for_the_retention_parameter() -> None:
    everything = resources()
    for name, function in functions().items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        props = everything[group]["Properties"]
        assert everything[group]["Type"] == "AWS::Logs::LogGroup", name
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert everything[group].get("Condition") == function.get("Condition"), name
    assert load()["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_every_function_has_error_rate_latency_and_throttle_alarms_that_notify() -> None:
    notify = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
    for name, function in functions().items():
        mine = {n: a for n, a in alarms().items() if on_function(a, name)}
        kinds = {frozenset(on_function(a, name)) for a in mine.values()}
        assert kinds == {frozenset({"Errors", "Invocations"}), frozenset({"Duration"}), frozenset({"Throttles"})}, name
        for alarm_name, alarm in mine.items():
            assert alarm["Properties"]["AlarmActions"] == [notify], alarm_name
            assert alarm.get("Condition") == function.get("Condition"), alarm_name
        rate = next(a for a in mine.values() if "Errors" in on_function(a, name))["Properties"]
        served = [
            m for m in rate["Metrics"] if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "ServerErrors"
        ]
        assert (
            served and {"Name": "function", "Value": {"Ref": name}} in served[0]["MetricStat"]["Metric"]["Dimensions"]
        )
        duration = next(a for a in mine.values() if "Duration" in on_function(a, name))["Properties"]
        assert duration["ExtendedStatistic"] == "p99"


def test_service_wide_alarms_watch_the_api_the_table_the_providers_and_attack_spikes() -> None:
    metrics = {(ns, metric) for a in alarms().values() for ns, metric, _ in watched(a)}
    assert {("AWS/ApiGateway", m) for m in ("5XXError", "4XXError", "Latency")} <= metrics
    assert {("AWS/DynamoDB", m) for m in ("ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors")} <= metrics
    assert {("UserCenter", m) for m in ("SmsFailures", "EmailFailures", "WechatFailures", *SPIKES)} <= metrics
    for metric in SPIKES:  # a spike is judged against the metric's own usual range, not a fixed number
        alarm = next(a for a in alarms().values() if ("UserCenter", metric) in {(n, m) for n, m, _ in watched(a)})
        band = [m for m in alarm["Properties"]["Metrics"] if "ANOMALY_DETECTION_BAND" in m.get("Expression", "")]
        assert band and alarm["Properties"]["ThresholdMetricId"] == band[0]["Id"]
    api = resources()["Api"]["Properties"]["Name"]
    for alarm in alarms().values():
        for ns, _, dims in watched(alarm):
            if ns == "AWS/ApiGateway":
                assert {"Name": "ApiName", "Value": api} in dims


def test_every_metric_the_alarms_watch_is_one_the_code_emits() -> None:
    ours = {metric for a in alarms().values() for ns, metric, _ in watched(a) if ns == "UserCenter"}
    code = "\n".join(
        p.read_text(encoding="utf-8") for p in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("functions/**/*.py")]
    )
    emitted = set(re.findall(r'name="(\w+)"', code)) | {f"{c.capitalize()}Failures" for c in ("sms", "email", "wechat")}
    assert ours <= emitted, ours - emitted


def test_the_dashboard_shows_every_alarm_and_the_key_graphs() -> None:
    body = resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    unconditional = {n for n, a in alarms().items() if "Condition" not in a}
    shown = set(re.findall(r"\$\{(\w+)\.Arn\}", body))
    assert unconditional <= shown and shown <= set(alarms())
    document = json.loads(re.sub(r"\$\{[\w:.]+\}", "x", body))
    titles = {w["properties"]["title"] for w in document["widgets"]}
    assert {"Sign-ins", "API latency (ms)", "DynamoDB capacity and throttles", "Codes and providers"} <= titles


def test_a_custom_domain_maps_the_api_stage_when_given() -> None:
    everything = resources()
    domain, mapping = everything["ApiDomain"], everything["ApiDomainMapping"]
    assert domain["Condition"] == mapping["Condition"] == "HasDomain"
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert mapping["Properties"]["RestApiId"] == {"Ref": "Api"}
    assert load()["Conditions"]["HasDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]}


def test_the_table_cannot_be_deleted_in_prod() -> None:
    table = resources()["Table"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}


def test_no_layer_ships_an_imaging_library_and_a_captcha_loads_none() -> None:
    for requirements in ROOT.glob("layers/*/requirements.txt"):
        text = requirements.read_text(encoding="utf-8").lower()
        assert not re.search(r"^(pillow|captcha|pil)\b", text, re.MULTILINE), requirements
    code = (
        "import sys; from shared.services.captcha_image import picture; data = picture('AB3K'); "
        "print(data[:4] == b'\\x89PNG', any(m.split('.')[0] in ('PIL', 'captcha') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"]
