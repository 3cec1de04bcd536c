"""The Intercom metrics both functions emit per invocation: calls, throttles, failures and latency."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from intercom_destination.intercom.calls import Call

#: CloudWatch's embedded metric format takes at most 100 values of one metric per record.
LATENCY_SAMPLES = 100


def add_intercom_metrics(metrics: Metrics, calls: list[Call]) -> None:
    """Counts of every attempt (retries included); the latency of at most LATENCY_SAMPLES of them, evenly
    spread, so the dashboard's percentiles stay representative of large batches."""
    if not calls:
        return
    metrics.add_metric(name="intercom.calls", unit=MetricUnit.Count, value=len(calls))
    metrics.add_metric(name="intercom.throttled", unit=MetricUnit.Count, value=sum(c.status == 429 for c in calls))
    failed = sum(c.status == 0 or c.status >= 500 for c in calls)  # no answer, or Intercom's own error
    metrics.add_metric(name="intercom.failed", unit=MetricUnit.Count, value=failed)
    step = -(-len(calls) // LATENCY_SAMPLES)
    for call in calls[::step]:
        metrics.add_metric(name="intercom.latency", unit=MetricUnit.Milliseconds, value=round(call.seconds * 1000, 1))
