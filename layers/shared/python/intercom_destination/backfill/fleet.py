"""A backfill on AWS's engines: a start lists the archive's objects under a prefix, splits them into parts
(sources.s3_parts) and hands each part to the workers through SQS; a worker (the same function, fed by
the queue) reads its part from its checkpoint until its time is nearly up, then hands the rest of the part
on in a new message; the worker that finishes the run's last part writes the report object,
`<prefix>_reports/<run>.json`. Many parts are read at once, each by one worker at a time (its checkpoint
decides, see checkpoints.Checkpoints.save).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.backfill.checkpoints import Checkpoints, PartTaken
from intercom_destination.backfill.runner import Backfill, Stopped, Tick
from intercom_destination.backfill.sources import REPORTS, S3Part, run_name, s3_parts
from intercom_destination.fanout import chunked

logger = Logger(child=True)
#: Messages per SendMessageBatch (SQS's limit).
_SEND_BATCH = 10


class BackfillUnavailableError(RuntimeError):
    """S3, SQS or DynamoDB did not answer: nothing is lost (checkpoints stand); run the command again, or
    the queue shows the part to a worker again."""


@contextmanager
def _aws(doing: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise BackfillUnavailableError(f"could not {doing}: {str(exc)[:300]}; run it again") from exc


def report_key(prefix: str, run: str) -> str:
    return f"{prefix.rstrip('/')}/{REPORTS}{run}.json" if prefix.strip("/") else f"{REPORTS}{run}.json"


class Fleet:
    def __init__(
        self,
        s3: Any,
        sqs: Any,
        queue_url: str,
        bucket: str,
        checkpoints: Callable[[str], Checkpoints],
        backfill: Callable[[str], Backfill],
    ) -> None:
        self._s3 = s3
        self._sqs = sqs
        self._queue_url = queue_url
        self._bucket = bucket
        self._checkpoints = checkpoints
        self._backfill = backfill

    def start(self, prefix: str, run: str | None = None) -> dict[str, Any]:
        """Plan the run and queue its parts; starting the same run again queues them again, and each
        worker goes on from its part's checkpoint (a finished part is skipped)."""
        with _aws(f"plan the run from s3://{self._bucket}/{prefix}"):
            return self._start(prefix, run)

    def _start(self, prefix: str, run: str | None) -> dict[str, Any]:
        parts = s3_parts(self._s3, self._bucket, prefix)
        run = run or run_name(parts, salt=f"s3://{self._bucket}/{prefix}")
        checkpoints = self._checkpoints(run)
        checkpoints.start([part.name for part in parts])
        if parts and self._report_if_done(run, prefix, checkpoints.status()):  # finished before: report again
            return {"run": run, "bucket": self._bucket, "prefix": prefix, "parts": len(parts), "finished": True}
        for batch in chunked([part.describe() for part in parts], _SEND_BATCH):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps({"run": run, "prefix": prefix, "part": part})}
                for n, part in enumerate(batch)
            ]
            failed = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries).get("Failed", [])
            if failed:
                raise BackfillUnavailableError(f"the queue refused {len(failed)} part(s): {failed[0]}; run it again")
        logger.info("backfill started", extra={"run": run, "parts": len(parts), "prefix": prefix})
        return {"run": run, "bucket": self._bucket, "prefix": prefix, "parts": len(parts)}

    def work(self, message: dict[str, Any], time_left: Callable[[], float], margin: float) -> Tick:
        """Read one part from its checkpoint while more than `margin` seconds are left; then queue the rest
        of it for the next worker. Raises Stopped when its events cannot be made durable (the queue shows
        the message again later)."""
        run, part = message["run"], S3Part.described(self._s3, message["part"])
        asked = [False]

        def stop() -> bool:
            asked[0] = asked[0] or time_left() < margin
            return asked[0]

        try:
            with _aws(f"read {part.name}"):
                tick = self._backfill(run).run([part], stop, on_tick=lambda tick: None, whole_run=False)
        except PartTaken:
            logger.info("another worker reads this part further; leaving it", extra={"part": part.name})
            return Tick()
        except Stopped as stopped:
            if not asked[0]:
                raise
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message))
            logger.info("time is up; the rest of the part is queued for the next worker", extra={"part": part.name})
            return stopped.tick or Tick()
        if tick.run_finished:
            self._report_if_done(run, message["prefix"], self.status(run))
        return tick

    def status(self, run: str) -> dict[str, Any]:
        with _aws(f"read run {run}'s checkpoints"):
            return self._checkpoints(run).status()

    def _report_if_done(self, run: str, prefix: str, status: dict[str, Any]) -> bool:
        """The run's totals into its report object once every part is finished (the reader that finished
        the last part; or a start of a run whose parts were all finished before)."""
        if status["parts_done"] < status["parts"]:
            return False
        key = report_key(prefix, run)
        body = json.dumps(status, indent=2).encode()
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        logger.info("backfill finished; report written", extra={"run": run, "report": f"s3://{self._bucket}/{key}"})
        return True
