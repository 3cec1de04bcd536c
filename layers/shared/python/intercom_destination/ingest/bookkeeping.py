"""An event's exactly-once bookkeeping in a request: claimed before its first Intercom call; afterwards
what is queued or parked sent to SQS, every claim not settled released (not accepted: the SDK resends
it), and the request recorded complete."""

from __future__ import annotations

from collections.abc import Callable, Collection

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

    def claim(self, prepared: list[Work], request: str) -> dict[int, Claim]:
        """Claim every event to deliver, in batches, before the first Intercom call (by batch index). The
        second copy of a messageId in one request is a duplicate of the first; if the table is
        unreachable, nothing is delivered that could not be de-duplicated (503, the SDK resends)."""
        owners: dict[str, int] = {}
        tags_of: dict[str, list[str]] = {}
        for work in prepared:
            if not isinstance(work.plan, Skip) and work.key not in owners:
                owners[work.key], tags_of[work.key] = work.index, work.tags
        try:
            by_key = self._dedupe.claim(tags_of, request)
        except (BotoCoreError, ClientError):
            logger.exception("idempotency claims failed", extra={"events": len(owners)})
            by_key = dict.fromkeys(owners, Claim.BUSY)
        return {
            work.index: by_key[work.key] if owners[work.key] == work.index else Claim.DONE
            for work in prepared
            if work.key in owners
        }

    def make_durable(self, outcomes: list[tuple[Work, Outcome]], claims: dict[int, Claim], request: str) -> None:
        """Send queued and parked events (SendMessageBatch, in parallel); then release the claims of this
        request's events that are not delivered or durable (events SQS refused are answered as not accepted,
        so the SDK resends exactly those), and record the request complete: its other claims are done."""
        for name, queue in ((Ending.QUEUED, self._dead_letters), (Ending.PARKED, self._parking)):
            pending = [index for index, (_, outcome) in enumerate(outcomes) if outcome.name == name]
            refused = queue.send([message for index in pending if (message := outcomes[index][1].message)])
            if refused:
                logger.error("queue refused events", extra={"queue": name, "events": len(refused)})
            for position in refused:
                work = outcomes[pending[position]][0]
                outcomes[pending[position]] = (work, Outcome(Ending.BUSY))
        ours = {work.key for work, _ in outcomes if claims.get(work.index) is Claim.NEW}
        settled = {work.key for work, outcome in outcomes if outcome.name.settled}
        # A claim not released expires after the budget; the completion names it, so a resend then takes it.
        unreleased = self._durability_call("release", lambda: self._dedupe.release(ours - settled), ours - settled)
        # A forgotten person's record keeps no tags: nothing of theirs is written after their forget.
        forgotten = [work.key for work, outcome in outcomes if outcome.name is Ending.FORGOTTEN]
        # An unrecorded completion only means a resend within the claim's lifetime is answered 503, and a
        # later one is delivered again (upserts; Intercom drops a repeated event of the same second).
        self._durability_call("completion", lambda: self._dedupe.complete(request, unreleased, forgotten), [])

    def _durability_call(self, what: str, call: Callable[[], list[str]], keys: Collection[str]) -> list[str]:
        """The keys the call left undone (all of `keys` if it raised), logged."""
        try:
            failed = call()
        except (BotoCoreError, ClientError):
            logger.exception(f"idempotency {what} failed")
            return list(keys)
        if failed:
            logger.warning(f"idempotency {what} incomplete", extra={"events": len(failed)})
        return failed
