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
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.config.settings import Settings
from intercom_destination.delivery.deliverer import Deliverer
from intercom_destination.delivery.errors import WAITS_FOR_LATER_EVENT, DeliveryError
from intercom_destination.durability.people import People
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
from intercom_destination.intake.events import InvalidCallError
from intercom_destination.intercom import client as intercom
from intercom_destination.intercom.client import DEFERRED
from intercom_destination.intercom.errors import RateLimitedError
from intercom_destination.intercom.rate_limit import RateLimitState
from intercom_destination.person import person_ids
from intercom_destination.replay.replayer import Replayer
from intercom_destination.replay.summary import Summary

logger = Logger(child=True)


class Then(Enum):
    """What a lane does after replaying one message."""

    NEXT = "next"  # delivered, parked, or waiting for a later event: the person's next message
    AGAIN = "again"  # rate-limited, untried: the same message once Intercom's window resets
    HOLD = "hold"  # hidden for its backoff: the person's later messages wait behind it
    STOP = "stop"  # out of time, or no parking queue: nothing more this round


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
        self._dead_letters = dead_letters
        self._parking = parking
        self._people = people
        self._replayer = Replayer(settings, deliverer, people, records)
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
                then = Then.AGAIN
                while then is Then.AGAIN:
                    if ended.is_set() or self._clock() >= deadline or not self._wait_for_window(deadline, summary):
                        ended.set()
                        self._release(messages[position:], summary)
                        return
                    try:
                        then = self._replay(received, summary, done)
                    except QueueUnavailableError:  # the parking queue refused: keep the message, end the run
                        logger.exception("parking queue unavailable; the message stays queued")
                        broken.set()
                        then = Then.STOP
                        self._release([received], summary)
                if then is Then.NEXT:
                    continue
                self._release(messages[position + 1 :], summary)
                if then is Then.STOP:
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

    def _replay(self, received: Received, summary: Summary, done: list[str]) -> Then:
        """Replay one message; what the lane does next (Then)."""
        message = received.message
        summary.replayed += 1
        log: dict[str, Any] = {"message_id": message.message_id, "action": message.action, "step": message.step}
        if message.last_error.code == "unreadable_message":
            self._park(received, message.last_error, message.step, message.state, summary, done)
            return Then.NEXT
        try:
            applied = self._replayer.deliver(message)
        except InvalidCallError as exc:  # queued before a validation rule tightened: never lose it silently
            invalid = LastError(None, "invalid_event", str(exc)[:500])
            self._park(received, invalid, message.step, message.state, summary, done)
            return Then.NEXT
        except DeliveryError as failure:
            return self._failed(received, failure, log, summary, done)
        except Exception as exc:  # a poison message (a mapping bug, an answer we never saw) must not stall the queue
            logger.exception("replay raised; parked", extra=log)
            poison = LastError(None, "replay_error", f"{type(exc).__name__}: {str(exc)[:300]}")
            self._park(received, poison, message.step, message.state, summary, done)
            return Then.NEXT
        done.append(received.receipt)
        self._left_queue(message)
        if applied:
            summary.delivered += 1
            logger.info("replayed", extra=log)
        else:
            summary.stale += 1
            logger.info("replay skipped: a newer event of this person was applied", extra=log)
        return Then.NEXT

    def _failed(
        self, received: Received, failure: DeliveryError, log: dict[str, Any], summary: Summary, done: list[str]
    ) -> Then:
        """A replay Intercom failed: parked if refused for good or tried too often, untried if out of time or
        rate-limited, else hidden for its backoff."""
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
            return Then.NEXT
        if error.code == DEFERRED:  # the run's time is up mid-message: untried, not failed
            self._release([received], summary)
            return Then.STOP
        if isinstance(error, RateLimitedError):  # not tried: Intercom's window is spent
            summary.replayed -= 1
            logger.info("rate limited; the message waits for the window", extra=log)
            return Then.AGAIN
        tries = self._tries.failed(received.sqs_id, received.receive_count)
        if tries >= self._settings.redrive_max_replays:
            logger.warning("replay failed too often; parked", extra={**log, "tries": tries})
            gave_up = replace(last, message=f"after {tries} tries: {last.message}"[:500])
            self._park(received, gave_up, failure.step, failure.state, summary, done)
            return Then.NEXT
        wait = self.backoff(tries)
        self._hide(received, wait, summary)
        logger.info("replay failed; backing off", extra={**log, "backoff_seconds": wait})
        # Waiting for a later event of the person (the identify): let that one through meanwhile.
        return Then.NEXT if error.code == WAITS_FOR_LATER_EVENT else Then.HOLD

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
