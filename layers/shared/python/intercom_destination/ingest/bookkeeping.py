"""An event's exactly-once bookkeeping in a request: claimed before its first Intercom call; afterwards
what is queued or parked sent to SQS, and every claim completed (done or durable) or released (not
accepted: the SDK resends it)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.durability.claims import Claim, Dedupe
from intercom_destination.durability.queue import Queue
from intercom_destination.ingest.work import Ending, Outcome, Work
from intercom_destination.mapping.plans import Skip

logger = Logger(child=True)


class Bookkeeping:
    def __init__(self, dedupe: Dedupe, dead_letters: Queue, parking: Queue) -> None:
        self._dedupe = dedupe
        self._dead_letters = dead_letters
        self._parking = parking

    def claim(self, prepared: list[Work]) -> dict[int, Claim]:
        """Claim every event to deliver, in batches, before the first Intercom call (by batch index). The
        second copy of a messageId in one request is a duplicate of the first; if the table is
        unreachable, nothing is delivered that could not be de-duplicated (503, the SDK resends)."""
        owners: dict[str, int] = {}
        tags_of: dict[str, list[str]] = {}
        for work in prepared:
            if not isinstance(work.plan, Skip) and work.key not in owners:
                owners[work.key], tags_of[work.key] = work.index, work.tags
        try:
            by_key = self._dedupe.claim(tags_of)
        except (BotoCoreError, ClientError):
            logger.exception("idempotency claims failed", extra={"events": len(owners)})
            by_key = dict.fromkeys(owners, Claim.BUSY)
        return {
            work.index: by_key[work.key] if owners[work.key] == work.index else Claim.DONE
            for work in prepared
            if work.key in owners
        }

    def make_durable(self, outcomes: list[tuple[Work, Outcome]]) -> None:
        """Send queued and parked events (SendMessageBatch, in parallel); then complete the claims of what is
        delivered or durable, in batches. Events SQS refused are released and answered as not accepted,
        so the SDK resends exactly those (the others are duplicates by then)."""
        released = []
        for name, queue in ((Ending.QUEUED, self._dead_letters), (Ending.PARKED, self._parking)):
            pending = [index for index, (_, outcome) in enumerate(outcomes) if outcome.name == name]
            refused = queue.send([message for index in pending if (message := outcomes[index][1].message)])
            if refused:
                logger.error("queue refused events", extra={"queue": name, "events": len(refused)})
            for position in refused:
                work = outcomes[pending[position]][0]
                released.append(work.key)
                outcomes[pending[position]] = (work, Outcome(Ending.BUSY))
        done = [(work, outcome.name) for work, outcome in outcomes if outcome.name.settled and work.key not in released]
        # A forgotten person's record keeps no tags: nothing of theirs is written after their forget.
        tags_of = {work.key: work.tags for work, name in done if name is not Ending.FORGOTTEN}
        # An unrecorded completion only means a resend within the claim's lifetime is answered 503, and a
        # later one is delivered again (upserts; Intercom drops a repeated event of the same second).
        self._durability_call(
            "completion", lambda: self._dedupe.complete({work.key: name for work, name in done}, tags_of)
        )
        # A claim not released expires after the budget, then frees the event for the resend.
        self._durability_call("release", lambda: self._dedupe.release(released))

    def _durability_call(self, what: str, call: Callable[[], list[str]]) -> None:
        try:
            failed = call()
        except (BotoCoreError, ClientError):
            logger.exception(f"idempotency {what} failed")
            return
        if failed:
            logger.warning(f"idempotency {what} incomplete", extra={"events": len(failed)})
