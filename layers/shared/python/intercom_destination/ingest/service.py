"""One inbound request, start to answer: decode, authenticate, validate each call, deliver or queue, report.

Knows HTTP only as a status, a JSON body and headers (the handler turns that into a Response).
Every valid event ends in one of: delivered, skipped, duplicate (its messageId was handled before),
stale (an identify or group older than one already applied to that person: newest wins), forgotten (dated
before its person was forgotten: a resend must not bring them back), queued on the dead-letter queue
(Intercom failed, was rate-limited, or the time budget ran out), or parked (Intercom refused it for good).
The caller gets 200 only when all of that is durable; if SQS refuses the messages, the claims are
released and the caller gets 503, so the SDK resends.

Events of one person are handled in request order; once one of them is queued for a passing failure,
the person's later events are queued behind it, in this request and (through the person record) in
later ones, so the redrive function replays them in order too. A group or track queued because its
contact is not in Intercom yet is the exception: it waits for a later event (the identify), which must
not wait behind it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.config.settings import Settings
from intercom_destination.delivery.deliverer import Deliverer
from intercom_destination.delivery.errors import DeliveryError, Step
from intercom_destination.durability.claims import Claim, Dedupe
from intercom_destination.durability.people import People
from intercom_destination.durability.queue import LastError, Queue, QueuedEvent
from intercom_destination.durability.record_sync import RecordSync
from intercom_destination.durability.records import Applied, Person
from intercom_destination.ingest.bookkeeping import Bookkeeping
from intercom_destination.ingest.lanes import Lane, person_queues
from intercom_destination.ingest.prepare import identity_keys_of, prepare
from intercom_destination.ingest.preview import preview_of
from intercom_destination.ingest.reading import RequestReader
from intercom_destination.ingest.report import Answer, Report
from intercom_destination.ingest.reserve import FinishingReserve
from intercom_destination.ingest.work import NEXT, Ending, Outcome, Unmappable, Work
from intercom_destination.intake.answers import ItemError
from intercom_destination.intake.inbound import (
    PREVIEW_PATH,
    Caller,
    Item,
    RawRequest,
    RequestError,
)
from intercom_destination.intercom import client as intercom
from intercom_destination.intercom.client import DEFERRED
from intercom_destination.intercom.errors import PermanentError, RetryableError
from intercom_destination.limits import PerAddress
from intercom_destination.mapping.actions import ActionSet, default_actions
from intercom_destination.mapping.plans import Skip

logger = Logger(child=True)


class Ingest:
    def __init__(
        self,
        settings: Settings,
        accepted_keys: Callable[[], tuple[str, ...]],
        deliverer: Deliverer,
        executor: Executor,
        dead_letters: Queue,
        parking: Queue,
        dedupe: Dedupe,
        people: People,
        records: RecordSync,
        webhook_secrets: Callable[[], tuple[str, ...]] = tuple,
        actions: Callable[[], ActionSet] = default_actions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._reader = RequestReader(settings, accepted_keys, webhook_secrets, actions)
        self._deliverer = deliverer
        self._executor = executor
        self._bookkeeping = Bookkeeping(dedupe, dead_letters, parking)
        self._people = people
        self._records = records
        self._clock = clock
        self._browser_budget = PerAddress(settings.browser_requests_per_minute)
        self._reserve = FinishingReserve()

    def handle(self, path_kind: str, request: RawRequest, received_at: datetime) -> Answer:
        """Raises intake.inbound.RequestError for request-level problems (nothing delivered), and a 503 one when the
        request is not done by the delivery budget: Intercom's calls end in time by themselves, but a DynamoDB
        or SQS call that hangs may take botocore's timeouts times its attempts, twice over, and Lambda's
        timeout would answer 500. The work goes on in the background; the SDK's resend finds each event
        claimed, done or free again, never delivered twice."""
        started = self._clock()
        result: list[Answer] = []
        raised: list[BaseException] = []

        def run() -> None:
            try:
                result.append(self._handle(path_kind, request, received_at, started))
            except BaseException as exc:  # handed to the caller's thread as it is
                raised.append(exc)

        worker = threading.Thread(target=run, name="request", daemon=True)
        worker.start()
        worker.join(max(started + self._settings.delivery_budget_seconds - self._clock(), 0))
        if raised:
            raise raised[0]
        if not result:
            logger.error("request not done within the budget (DynamoDB or SQS too slow); answered 503")
            raise RequestError(503, "unavailable", "the destination could not make the events durable in time; retry")
        return result[0]

    def _handle(self, path_kind: str, request: RawRequest, received_at: datetime, started: float) -> Answer:
        caller, items = self._reader.read(path_kind, request)
        if caller.browser and not self._browser_budget.take(request.source_ip):
            raise RequestError(
                429, "rate_limited", "too many requests from this address with a browser key; retry later"
            )
        return self.process(caller, items, received_at, started, self._settings.delivery_budget_seconds).answer()

    def process(
        self, caller: Caller, items: list[Item], received_at: datetime, started: float, budget: float
    ) -> Report:
        """Every event of `items` to its end (as `handle` does after reading a request; a backfill's chunks
        come here too): the report says how each ended. Intercom calls end early enough to leave the
        finishing work after them its time in `budget`."""
        settings = self._settings
        deadline = started + budget - self._reserve.seconds(len(items), budget)
        report = Report()
        actions = self._reader.actions()
        prepared = [work for item in items for work in prepare(item, caller, received_at, report, actions, settings)]
        request_id = uuid.uuid4().hex  # names this request's claims, and its completion
        claims = self._bookkeeping.claim(prepared, request_id)
        people = person_queues(prepared)
        found, forgotten = self._read_people(people)
        self._unlearn_forgotten(people, forgotten)
        self._recall_identity(people, found)
        futures = [
            self._executor.submit(
                self._handle_person, person.works, claims, found[person.key], forgotten, deadline, received_at
            )
            for person in people
        ]
        outcomes = [pair for future in futures for pair in future.result()]
        delivered = self._clock()
        self._bookkeeping.make_durable(outcomes, claims, request_id)
        self._remember(outcomes, {work.index: found[person.key] for person in people for work in person.works})
        for work, outcome in outcomes:
            self._record(report, work, outcome)
        finished = self._clock()
        self._reserve.observe(len(items), finished - delivered)
        timings = {
            "delivering_ms": int((delivered - started) * 1000),
            "finishing_ms": int((finished - delivered) * 1000),
        }
        logger.info("request handled", extra={"events": len(items), "outcomes": dict(report.counts), **timings})
        return report

    def actions(self) -> ActionSet:
        """The actions in force (a backfill's dry run previews with them)."""
        return self._reader.actions()

    def preview(self, request: RawRequest, received_at: datetime) -> Answer:
        """What the events of a request would do: the actions each fires and the Intercom requests each would
        send (mapping.requests), or why it is skipped or invalid. Nothing is claimed, sent or queued.
        The body is any the webhook path takes (one event, an array, a batch); a write key is required."""
        caller, items = self._reader.read(PREVIEW_PATH, request)
        if caller.browser:  # what the actions file does is the operator's to see, not any page's visitor's
            raise RequestError(403, "forbidden", "a browser key cannot preview; use a server key")
        return Answer(200, preview_of(items, caller, received_at, self._reader.actions(), self._settings))

    def _unlearn_forgotten(self, people: list[Lane], forgotten: dict[str, int]) -> None:
        """A person forgotten more recently than this function's memory lasts may be remembered here from
        before: their contact was deleted, so what we know of it goes (a returning person is written anew)."""
        if not forgotten:
            return
        since_ms = (time.time() - self._settings.cache_ttl_seconds) * 1000
        for person in people:
            if any(forgotten.get(person_id, 0) > since_ms for work in person.works for person_id in work.ids):
                self._records.unlearn(identity_keys_of(person.works))

    def _recall_identity(self, people: list[Lane], found: dict[str, Person]) -> None:
        """What the person records know of this request's contacts and companies, into the warm map."""
        for person in people:
            self._records.recall(found[person.key], identity_keys_of(person.works))

    def _remember(self, outcomes: list[tuple[Work, Outcome]], person_of: dict[int, Person]) -> None:
        """Count the messages that now wait for a passing failure on their person's records; then per person,
        in one update of their primary record, the identify and group versions applied (newest wins) and
        what the identity map learned or proved wrong, and their other names pointed to it. Best effort:
        People logs what it cannot write."""
        waiting = [outcome.message for _, outcome in outcomes if outcome.holds_back and outcome.message]
        if waiting:
            self._people.queued(waiting, time.time())
        by_person: dict[str, tuple[Person, list[tuple[Work, Outcome]]]] = {}
        for work, outcome in outcomes:
            if outcome.name is not Ending.FORGOTTEN:  # nothing of theirs is written after their forget
                person = person_of[work.index]
                by_person.setdefault(person.primary, (person, []))[1].append((work, outcome))
        self._records.save([
            self._records.remembered(
                person,
                [work.version for work, outcome in done if work.version and outcome.applied],
                identity_keys_of([work for work, _ in done]),
            )
            for person, done in by_person.values()
        ])  # fmt: skip

    def _read_people(self, people: list[Lane]) -> tuple[dict[str, Person], dict[str, int]]:
        """One read (BatchGetItem per 100) for every person of this request with something to deliver: the
        records of all their names, and which of their ids were forgotten (when). Unreadable means no
        staleness, waiting or forgotten check (deliver as if nothing were recorded), never a refused event."""
        active = [person for person in people if any(not isinstance(work.plan, Skip) for work in person.works)]
        ids = [person_id for person in active for work in person.works for person_id in work.ids]
        try:
            found, forgotten = (
                self._people.lookup({person.key: person.keys for person in active}, ids) if active else ({}, {})
            )
        except (BotoCoreError, ClientError):
            logger.exception("person records unreadable; no staleness or forgotten check this request")
            found, forgotten = {}, {}
        return {person.key: found.get(person.key) or Person(person.key, Applied(), []) for person in people}, forgotten

    def _handle_person(
        self,
        queue: list[Work],
        claims: dict[int, Claim],
        person: Person,
        forgotten: dict[str, int],
        deadline: float,
        received_at: datetime,
    ) -> list[tuple[Work, Outcome]]:
        """One person's events in order: each through the gate, then delivered, or queued behind an earlier
        failure or past the deadline. Every Intercom call ends by the deadline (intercom.deadline), not only
        starts before it."""
        with intercom.deadline(deadline):
            results: list[tuple[Work, Outcome]] = []
            applied, now = person.record, time.time()
            group = person.queue_group(now)  # one message group per person: behind what waits, if anything
            queued_before = applied.has_waiting(now)  # behind what earlier requests queued
            for work in queue:
                outcome = _gate(work, claims, forgotten, applied)
                if outcome is None and (queued_before or self._clock() >= deadline):
                    code, text = (
                        ("queued_behind", "an earlier event of this person is queued")
                        if queued_before
                        else (DEFERRED, "not delivered within the time budget")
                    )
                    failure = DeliveryError(RetryableError(None, code, text))
                    outcome = Outcome(Ending.QUEUED, _message(work, group, received_at, failure))
                if outcome is None:
                    outcome = self._attempt(work, applied, group, received_at)
                results.append((work, outcome))
                queued_before = queued_before or outcome.holds_back
            return results

    def _attempt(self, work: Work, applied: Applied, group: str, received_at: datetime) -> Outcome:
        """Deliver one event that passed the gate: delivered, or queued (a failure that passes) or parked
        (Intercom refused it for good), with the step still to do."""
        try:
            if isinstance(work.plan, Unmappable):
                raise DeliveryError(PermanentError(None, "mapping_error", work.plan.error))
            nothing_to_do = self._deliverer.deliver(work.plan)
        except DeliveryError as failure:
            if work.version and failure.step == Step.ATTACH:
                applied.note(work.version)  # the company was written: an older group must not undo it
            message = _message(work, group, received_at, failure)
            return (
                Outcome(Ending.QUEUED, message) if failure.error.retryable else Outcome(Ending.PARKED, message.parked())
            )
        except Exception as exc:  # an answer we did not foresee: keep the event, the redrive tries again
            logger.exception("delivery failed unexpectedly; queueing", extra={"message_id": work.message_id})
            error = RetryableError(None, "internal_error", f"{type(exc).__name__}: {str(exc)[:200]}")
            return Outcome(Ending.QUEUED, _message(work, group, received_at, DeliveryError(error)))
        if work.version:
            applied.note(work.version)
        if nothing_to_do:  # a Merge Lead for a visitor we made no lead for: counted, not an error
            logger.info("nothing to merge", extra={"message_id": work.message_id, "reason": nothing_to_do})
        return Outcome(Ending.NO_LEAD if nothing_to_do else Ending.DELIVERED)

    def _record(self, report: Report, work: Work, outcome: Outcome) -> None:
        report.counts[f"{work.call_type}.{outcome.name}"] += 1
        log = {"message_id": work.message_id, "index": work.index, "type": work.call_type, "outcome": outcome.name}
        if outcome.name is Ending.BUSY:
            report.failed.append(
                ItemError(work.index, work.message_id, "(event)", "not_accepted", "could not be made durable; resend")
            )
            logger.warning("event not accepted", extra=log)
        elif outcome.message is not None:
            error = outcome.message.last_error
            if outcome.name is Ending.PARKED:
                report.counts[f"parked.{error.code}"] += 1  # e.g. email_owned_by_other_user, for an alarm
            if error.status in (401, 403):
                report.counts["intercom_unauthorized"] += 1  # a revoked token: an alarm, events wait queued
            log |= {
                "person": outcome.message.person[:16],  # the message group: a hash, never the ids themselves
                "status": error.status,
                "code": error.code,
                "error": error.message,
                "next": NEXT[outcome.name],
            }
            logger.warning("event queued" if outcome.name is Ending.QUEUED else "event parked", extra=log)
        elif isinstance(work.plan, Skip):
            logger.debug("event skipped", extra={**log, "reason": work.plan.reason})


def _message(work: Work, group: str, received_at: datetime, failure: DeliveryError) -> QueuedEvent:
    """Queued on the dead-letter queue with the step still to do and why (Intercom's answer, or our rule)."""
    error = failure.error
    return QueuedEvent(
        event=work.event,
        action=work.call_type,
        step=failure.step,
        state=failure.state,
        idempotency_key=work.key,
        person=group,
        received_at=received_at.isoformat(),
        first_failed_at=datetime.now(UTC).isoformat(),
        last_error=LastError(error.status, error.code, error.message),
        mapped_by=work.action.spec() if work.action else None,
        browser=work.browser,
    )


def _gate(work: Work, claims: dict[int, Claim], forgotten: dict[str, int], applied: Applied) -> Outcome | None:
    """How an event ends before any delivery, if it does: no action fired, handled before (or being handled),
    dated before its person's forget, or older than what was applied (newest wins). None: deliver it."""
    if isinstance(work.plan, Skip):
        return Outcome(Ending.SKIPPED)
    claim = claims[work.index]
    if claim is not Claim.NEW:
        return Outcome(Ending.DUPLICATE if claim is Claim.DONE else Ending.BUSY)
    if any(forgotten.get(person_id, -1) >= work.occurred_ms for person_id in work.ids):
        return Outcome(Ending.FORGOTTEN)  # a resend of what was erased
    if work.version and applied.is_stale(work.version):  # a newer identify/group was applied
        return Outcome(Ending.STALE)
    return None
