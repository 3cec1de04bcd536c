"""Backfill function: an archive in S3 into Intercom, read in parallel by workers (docs/backfill.md).

Invoked three ways:
- `{"start": {"prefix": "segment-logs/<source>/", "run": "optional name"}}` (sam remote invoke): plan the
  run and queue its parts; answers the run's name and part count;
- `{"status": "<run>"}`: the run's totals (parts done, lines, events by ending, invalid lines);
- SQS records of its queue: each a part to read (one at a time: the event source's batch size is 1).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_destination.telemetry import add_intercom_metrics
from intercom_destination.wiring import backfill_fleet

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
#: Seconds of the function's time left when a worker stops reading and hands its part on: one chunk's
#: budget (BACKFILL_CHUNK_SECONDS, 30) and its finishing, with room to spare.
MARGIN_SECONDS = 90


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if "start" in event:
        start = event["start"] or {}
        return backfill_fleet().start(str(start.get("prefix", "")), start.get("run"))
    if "status" in event:
        return backfill_fleet().status(str(event["status"]))

    def work(record: SQSRecord) -> None:
        remaining = context.get_remaining_time_in_millis
        tick = backfill_fleet().work(record.json_body, lambda: remaining() / 1000, MARGIN_SECONDS)
        for name, value in tick.counts.items():
            metrics.add_metric(name=f"backfill.{name}", unit=MetricUnit.Count, value=value)
        metrics.add_metric(name="backfill.events", unit=MetricUnit.Count, value=tick.events)
        metrics.add_metric(name="backfill.paused_ms", unit=MetricUnit.Milliseconds, value=tick.paused_seconds * 1000)
        add_intercom_metrics(metrics, tick.calls)

    return process_partial_response(event=event, record_handler=work, processor=processor, context=context)
