"""Replays the dead-letter queue into Intercom: on a schedule, on demand, and locally with `make replay`.

A run drains in rounds while messages are visible: each round takes one message group (a person) per
lane and replays the lanes side by side. Each message resumes at its step (a group whose company exists
replays only the attach). Delivered → deleted. Retryable failure → hidden with exponential backoff (30 s,
60 s, … up to 12 h; a later round of the same run may retry it) and, FIFO, its person's later messages
wait behind it; after `REDRIVE_MAX_REPLAYS` failed tries (counted per message, tries.py: SQS's receive
count also counts receives that tried nothing) → parked. Refused by Intercom for good → parked with the
reason. A message received more than maxReceiveCount times (a high safety net) is parked by SQS itself.
A rate limit, or a window whose remaining calls are down to the share kept for live traffic
(`REDRIVE_LIVE_SHARE`), pauses the run until Intercom's window resets; the run ends only when the
reset comes after its budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.config.settings import Settings
from intercom_destination.delivery.deliverer import COMPANY_WRITTEN, WAITS_FOR_LATER_EVENT, Deliverer, DeliveryError
from intercom_destination.delivery.identity import keys_of
from intercom_destination.durability.people import Applied, People, Person, Version, names_of, version_of
from intercom_destination.durability.queue import (
    MAX_VISIBILITY_SECONDS,
    LastError,
    Queue,
    QueuedEvent,
    QueueUnavailableError,
    Received,
)
from intercom_destination.durability.record_sync import RecordSync
from intercom_destination.durability.tries import Tries
from intercom_destination.fanout import fan_out
from intercom_destination.intake import bounded_json
from intercom_destination.intake.events import FieldError, InvalidCallError, parse_call
from intercom_destination.intercom import client as intercom
from intercom_destination.intercom.client import RateLimitedError, RateLimitState
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import Action
from intercom_destination.mapping.plans import Plan, scoped
from intercom_destination.person import person_ids

logger = Logger(child=True)
#: `_replay`'s answer for a message Intercom's rate limit kept untried: the same one again, after a pause.
_AGAIN = -(2**31)


@dataclass
class Summary:
    replayed: int = 0
    delivered: int = 0
    requeued: int = 0
    parked: int = 0
    stale: int = 0  # an identify or group older than one already applied to the person: skipped
    forgotten: int = 0  # of a person forgotten (make forget) after the event was received: deleted
    paused_ms: int = 0  # waiting for Intercom's rate-limit window to reset
    elapsed_ms: int = 0
    backlog: int = 0  # messages visible in the dead-letter queue when the run ended

    @property
    def per_second(self) -> float:
        return self.replayed / (self.elapsed_ms / 1000) if self.elapsed_ms else 0.0

    def describe(self) -> str:
        """For the operator: the counts, the rate, and how long the backlog takes at that rate."""
        counts = "  ".join(f"{name} {value}" for name, value in self.as_dict().items())
        rate = f"{self.per_second:.1f} messages/s"
        if not self.backlog:
            return f"{counts}  ({rate})"
        if not self.per_second:
            return f"{counts}  ({rate}; {self.backlog} waiting, no progress this run)"
        return f"{counts}  ({rate}; {self.backlog} waiting: about {self.backlog / self.per_second:.0f} s to empty)"

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: Summary) -> None:
        """Counts of one lane into the run's."""
        for name in ("replayed", "delivered", "requeued", "parked", "stale", "paused_ms"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Redrive:
    def __init__(
        self,
        settings: Settings,
        deliverer: Deliverer,
        dead_letters: Queue,
        parking: Queue,
        people: People,
        records: RecordSync,
        rate_limit: RateLimitState,
        tries: Tries,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._deliverer = deliverer
        self._dead_letters = dead_letters
        self._parking = parking
        self._people = people
        self._records = records
        self._rate_limit = rate_limit
        self._tries = tries
        self._executor = executor
        self._lanes = settings.delivery_concurrency
        self._clock = clock

    def drain(self, budget_seconds: float) -> Summary:
        """Replay until the queue shows nothing visible or the budget is spent, in rounds that each end
        well inside the queue's visibility timeout (so a concurrent run never receives a message this one
        still holds); pauses for Intercom's rate-limit window between and within rounds."""
        started = self._clock()
        deadline = started + budget_seconds
        summary = Summary()
        while self._clock() < deadline and self._wait_for_window(deadline, summary):
            batch = self._receive_round()
            if not batch:
                break
            round_deadline = min(deadline, self._clock() + self._settings.redrive_round_seconds)
            if not self._replay_round(batch, round_deadline, summary):
                break
        summary.elapsed_ms = int((self._clock() - started) * 1000)
        summary.backlog = self._dead_letters.depth()
        logger.info("redrive finished", extra={**summary.as_dict(), "per_second": round(summary.per_second, 2)})
        return summary

    def _receive_round(self) -> list[Received]:
        """Messages of up to one group per lane: FIFO hands a group to one receive only while its messages
        are in flight, so no group is split between lanes."""
        received: list[Received] = []
        while len({message.group for message in received}) < self._lanes:
            try:
                batch = self._dead_letters.receive()
            except (BotoCoreError, ClientError) as exc:  # what this round holds returns after its visibility timeout
                raise QueueUnavailableError(
                    f"the dead-letter queue could not be read ({type(exc).__name__}: {str(exc)[:300]}); "
                    "nothing more is replayed in this run, the next one tries again"
                ) from exc
            if not batch:
                break
            received += batch
        return received

    def _replay_round(self, batch: list[Received], deadline: float, summary: Summary) -> bool:
        """Each person's messages in order, different people side by side (bounded by the lanes, sharing
        the client's rate-limit state). False when the run must end: the parking queue refused, or whether
        people were forgotten could not be read."""
        kept = self._drop_forgotten(batch, summary)
        if kept is None:
            return False
        groups: dict[str, list[Received]] = {}
        for received in kept:
            groups.setdefault(received.group, []).append(received)
        ended, broken = threading.Event(), threading.Event()
        results = fan_out(
            self._executor,
            lambda messages: self._replay_group(messages, deadline, ended, broken),
            list(groups.values()),
        )
        for part in results:
            summary.add(part)
        return not broken.is_set()

    def _replay_group(
        self, messages: list[Received], deadline: float, ended: threading.Event, broken: threading.Event
    ) -> Summary:
        """One person's messages in order. A failed message is hidden for its backoff and the ones after it
        released at once: FIFO keeps them behind it, so a run never sees a message twice and nobody's
        events overtake each other. At the round's deadline (or a rate-limit window resetting after it)
        the rest is released untried and `ended` tells the other lanes; a refused parking sets `broken`."""
        summary = Summary()
        done: list[str] = []  # delivered or parked: deleted together when the lane ends
        try:
            self._replay_lane(messages, deadline, ended, broken, summary, done)
        finally:
            self._dead_letters.delete_many(done)
        return summary

    def _replay_lane(
        self,
        messages: list[Received],
        deadline: float,
        ended: threading.Event,
        broken: threading.Event,
        summary: Summary,
        done: list[str],
    ) -> None:
        with intercom.deadline(deadline):  # per lane: a context variable does not cross into pool threads
            for position, received in enumerate(messages):
                wait: int | None = _AGAIN
                while wait == _AGAIN:
                    if ended.is_set() or self._clock() >= deadline or not self._wait_for_window(deadline, summary):
                        ended.set()
                        self._release(messages[position:], summary)
                        return
                    try:
                        wait = self._replay(received, summary, done)
                    except QueueUnavailableError:  # the parking queue refused: keep the message, end the run
                        logger.exception("parking queue unavailable; the message stays queued")
                        broken.set()
                        wait = -1
                        self._release([received], summary)
                if wait is None:
                    continue
                self._release(messages[position + 1 :], summary)
                if wait < 0:  # out of time, or no parking: nothing more this round
                    ended.set()
                break

    def _drop_forgotten(self, batch: list[Received], summary: Summary) -> list[Received] | None:
        """Delete the messages of people forgotten after their event was received (a forget cannot see
        messages hidden at the time); None, with the round released, if that cannot be checked."""
        ids_of = {received.receipt: person_ids(received.message.event) for received in batch}
        wanted = {person_id for ids in ids_of.values() for person_id in ids}
        try:
            forgotten = self._people.forgotten(wanted) if wanted else {}
        except (BotoCoreError, ClientError):
            logger.exception("forgotten people unreadable; the round waits")
            self._release(batch, summary)
            return None
        dropped = {
            received.receipt
            for received in batch
            if any(
                forgotten.get(person_id, -1) >= _received_ms(received.message) for person_id in ids_of[received.receipt]
            )
        }
        if dropped:
            self._dead_letters.delete_many(list(dropped))
            summary.forgotten += len(dropped)
            logger.info("dropped messages of forgotten people", extra={"messages": len(dropped)})
        return [received for received in batch if received.receipt not in dropped]

    def _wait_for_window(self, deadline: float, summary: Summary) -> bool:
        """Pause while Intercom's window is spent, or down to the share kept for live traffic; False
        (without waiting) when it resets only after `deadline`."""
        pause = self._rate_limit.wait_for(self._settings.redrive_live_share, time.time())
        if pause <= 0:
            return True
        if self._clock() + pause >= deadline:
            return False
        logger.info("pausing until Intercom's rate-limit window resets", extra={"seconds": round(pause, 2)})
        time.sleep(pause)
        summary.paused_ms += int(pause * 1000)
        return True

    def _replay(self, received: Received, summary: Summary, done: list[str]) -> int | None:
        """None when the run may go on with the person's next message (this one delivered, parked, or
        waiting for a later event); _AGAIN when rate-limited (untried: the same message after the pause);
        else the backoff it was hidden for (negative: out of time, stop the run)."""
        message = received.message
        summary.replayed += 1
        log: dict[str, Any] = {"message_id": message.message_id, "action": message.action, "step": message.step}
        if message.last_error.code == "unreadable_message":
            self._park(received, message.last_error, message.step, message.state, summary, done)
            return None
        try:
            applied = self._deliver(message)
        except InvalidCallError as exc:  # queued before a validation rule tightened: never lose it silently
            invalid = LastError(None, "invalid_event", str(exc)[:500])
            self._park(received, invalid, message.step, message.state, summary, done)
            return None
        except DeliveryError as failure:
            error = failure.error
            last = LastError(error.status, error.code, error.message)
            log |= {
                "status": error.status,
                "code": error.code,
                "error": error.message,
                "receives": received.receive_count,
            }
            if not error.retryable:
                logger.warning("replay refused by Intercom; parked", extra=log)
                self._park(received, last, failure.step, failure.state, summary, done)
                return None
            if error.code == "deferred":  # the run's time is up mid-message: untried, not failed
                self._release([received], summary)
                return -1
            if isinstance(error, RateLimitedError):  # not tried: Intercom's window is spent
                summary.replayed -= 1
                logger.info("rate limited; the message waits for the window", extra=log)
                return _AGAIN
            tries = self._tries.failed(received.sqs_id, received.receive_count)
            if tries >= self._settings.redrive_max_replays:
                logger.warning("replay failed too often; parked", extra={**log, "tries": tries})
                gave_up = replace(last, message=f"after {tries} tries: {last.message}"[:500])
                self._park(received, gave_up, failure.step, failure.state, summary, done)
                return None
            wait = self.backoff(tries)
            self._hide(received, wait, summary)
            logger.info("replay failed; backing off", extra={**log, "backoff_seconds": wait})
            # Waiting for a later event of the person (the identify): let that one through meanwhile.
            return None if error.code == WAITS_FOR_LATER_EVENT else wait
        except Exception as exc:  # a poison message (a mapping bug, an answer we never saw) must not stall the queue
            logger.exception("replay raised; parked", extra=log)
            poison = LastError(None, "replay_error", f"{type(exc).__name__}: {str(exc)[:300]}")
            self._park(received, poison, message.step, message.state, summary, done)
            return None
        done.append(received.receipt)
        self._left_queue(message)
        if applied:
            summary.delivered += 1
            logger.info("replayed", extra=log)
        else:
            summary.stale += 1
            logger.info("replay skipped: a newer event of this person was applied", extra=log)
        return None

    def _deliver(self, message: QueuedEvent) -> bool:
        """Validate and map again (with this version's rules), then deliver from the queued step. False
        when the event is stale: a newer identify or group of the person was applied meanwhile (a lead
        merge step is never stale: the newer identify did not merge)."""
        if found := bounded_json.problems(message.event):
            raise InvalidCallError([FieldError(field=path, message=why) for path, why in found])
        call = parse_call(message.event)
        received_at = datetime.fromisoformat(message.received_at)
        action = Action.from_spec(message.mapped_by) if message.mapped_by is not None else None
        plan = scoped(map_call(call, received_at, self._settings.lead_handling, action, message.event), message.browser)
        version = version_of(plan, call, received_at) if message.step != "merge" else None
        if not version:
            self._deliverer.deliver(plan, message.step, message.state)
            return True
        person = self._person(message)
        record = person.record
        if record.is_stale(version):
            return False
        self._records.recall(person, keys_of(plan))
        try:
            self._deliverer.deliver(plan, message.step, message.state)
        except DeliveryError as failure:
            if failure.step == COMPANY_WRITTEN and message.step != COMPANY_WRITTEN:
                self._remember(person, version, plan)  # the company was written: an older group must not undo it
            raise
        self._remember(person, version, plan)
        return True

    def _remember(self, person: Person, version: Version, plan: Plan) -> None:
        """The version applied and what was written, so a new function's next identical identify is skipped
        only if it matches (and the person's other names pointed to their record)."""
        self._records.save([self._records.remembered(person, [version], keys_of(plan))])

    def _person(self, message: QueuedEvent) -> Person:
        """The message's person as ingest saw them: the records of every name its event carries, as one."""
        primary, keys = names_of(message.event, message.person)
        try:
            return self._people.lookup({primary: [*keys, message.person]})[0][primary]
        except (BotoCoreError, ClientError):
            logger.exception("person record unreadable; replaying without a staleness check")
            return Person(primary, Applied(), [])

    def backoff(self, tries: int) -> int:
        return min(self._settings.redrive_backoff_seconds * 2 ** max(tries - 1, 0), MAX_VISIBILITY_SECONDS)

    def _hide(self, received: Received, seconds: int, summary: Summary) -> None:
        self._dead_letters.hide(received.receipt, seconds)
        summary.requeued += 1

    def _release(self, messages: list[Received], summary: Summary) -> None:
        """Back to the queue untried (visible now; FIFO still holds them behind their person's head)."""
        self._dead_letters.release([received.receipt for received in messages])
        summary.requeued += len(messages)

    def _park(
        self, received: Received, error: LastError, step: str, state: dict[str, str], summary: Summary, done: list[str]
    ) -> None:
        message = received.message
        parked = message.parked(
            step=step, state=state, last_error=error, attempts=message.attempts + received.receive_count
        )
        self._parking.send_all([parked])
        done.append(received.receipt)
        self._left_queue(message)
        summary.parked += 1

    def _left_queue(self, message: QueuedEvent) -> None:
        """Count down the person's waiting messages (ingest counted those queued for a passing failure)."""
        if message.last_error.code != WAITS_FOR_LATER_EVENT:
            self._people.replayed(message)


def _received_ms(message: QueuedEvent) -> int:
    return int(datetime.fromisoformat(message.received_at).timestamp() * 1000)


def unpark(parking: Queue, dead_letters: Queue) -> int:
    """Move every parked message back to the dead-letter queue once its cause is fixed (local twin of
    `aws sqs start-message-move-task`). The attempt count rises, which also gives SQS a new dedup id."""
    moved = 0
    while batch := parking.receive():
        dead_letters.send_all([_revived(received.message) for received in batch])
        for received in batch:
            parking.delete(received.receipt)
        moved += len(batch)
    return moved


def _revived(message: QueuedEvent) -> QueuedEvent:
    return replace(message, reason="", attempts=message.attempts + 1)
