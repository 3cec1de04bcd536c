"""Redrive function: replays the dead-letter queue into Intercom (EventBridge schedule, or on demand:
`sam remote invoke RedriveFunction`, locally `make replay`). Returns the run's summary."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_destination.config.settings import get_settings
from intercom_destination.telemetry import add_intercom_metrics
from intercom_destination.wiring import drain_intercom_calls, redrive_service

logger = Logger()
metrics = Metrics()
#: Time kept back from the function's timeout to hide what was not tried and to flush logs.
_MARGIN_SECONDS = 5


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, int]:
    remaining = context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    summary = redrive_service().drain(budget_seconds=max(min(get_settings().redrive_budget_seconds, remaining), 1))
    for name, value in summary.as_dict().items():
        unit = MetricUnit.Milliseconds if name.endswith("_ms") else MetricUnit.Count
        metrics.add_metric(name=f"redrive.{name}", unit=unit, value=value)
    add_intercom_metrics(metrics, drain_intercom_calls())
    return summary.as_dict()
