"""The Intercom metrics of an invocation, as CloudWatch receives them (embedded metric format)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from intercom_destination.intercom.calls import Call
from intercom_destination.telemetry import LATENCY_SAMPLES, add_intercom_metrics


def emitted(calls: list[Call]) -> dict[str, object]:
    metrics = Metrics(namespace="Test", service="test")
    metrics.clear_metrics()  # powertools shares one metric set between instances (the handlers' too)
    add_intercom_metrics(metrics, calls)
    record: dict[str, object] = dict(metrics.serialize_metric_set()) if metrics.metric_set else {}
    metrics.clear_metrics()
    return {name: value for name, value in record.items() if name.startswith("intercom.")}


def test_counts_every_attempt_and_samples_latency_within_the_format_limit() -> None:
    calls = [Call(200, 0.05)] * 240 + [Call(429, 0.01)] * 5 + [Call(503, 0.2)] * 3 + [Call(0, 3.0)] * 2
    record = emitted(calls)
    assert (record["intercom.calls"], record["intercom.throttled"], record["intercom.failed"]) == ([250], [5], [5])
    latency = record["intercom.latency"]
    assert isinstance(latency, list)
    assert 0 < len(latency) <= LATENCY_SAMPLES
    assert set(latency) <= {50.0, 10.0, 200.0, 3000.0}


def test_one_call_is_one_sample_and_no_call_is_no_metric() -> None:
    assert emitted([Call(202, 0.1234)]) == {
        "intercom.calls": [1],
        "intercom.throttled": [0],
        "intercom.failed": [0],
        "intercom.latency": [123.4],
    }
    assert emitted([]) == {}
