"""The dead-letter queue: what a queued event carries, and the SQS calls that move it.

Both queues are FIFO. The message group is the person (a hash of their ids, never the ids), so SQS
itself keeps per-person order: while one message of a person is in flight or backing off, none of their
later ones is delivered. The deduplication id is the event's idempotency key plus the step, so an SDK's
resend of an event already queued within five minutes is dropped by SQS (an unparked message counts one
more attempt, so it gets a new id).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.delivery.errors import Step
from intercom_destination.fanout import chunked, fan_out
from intercom_destination.person import person_group

logger = Logger(child=True)
T = TypeVar("T")

#: SQS limits: 10 entries per batch call, 1 MiB for a batch's bodies together, 12 hours of visibility.
BATCH_SIZE = 10
BATCH_BYTES = 1_048_576
MAX_VISIBILITY_SECONDS = 12 * 3600
#: What SQS refuses in a body (it takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF): JSON
#: escapes the control characters itself; lone surrogates and U+FFFE/U+FFFF are escaped here.
_NOT_FOR_SQS = re.compile("[\ud800-\udfff\ufffe\uffff]")


class QueueUnavailableError(Exception):
    """SQS did not take the messages: the caller must not answer 200."""


@dataclass(frozen=True)
class LastError:
    status: int | None
    code: str
    message: str


@dataclass(frozen=True)
class QueuedEvent:
    """One event still to deliver. Never holds a token; holds the event as received (minus writeKey)."""

    event: dict[str, Any]
    action: str  # the event's type: identify, group or track (its `mapped_by` action says what to send)
    step: str  # where its delivery resumes (delivery.errors.Step)
    idempotency_key: str
    person: str  # the ordering group: a hash of the person's ids
    received_at: str  # ISO 8601: replays map times exactly as the first attempt did
    first_failed_at: str
    last_error: LastError
    state: dict[str, str] = field(default_factory=dict)  # what the step needs, e.g. the company's Intercom id
    attempts: int = 1
    reason: str = ""  # set when parked
    mapped_by: dict[str, Any] | None = None  # the action that fired at ingest (None: the type's default action)
    browser: bool = False  # sent with a browser key: replayed with the same limits (mapping.plans.scoped)
    version: int = field(default=2)  # 2: counted on the records of every name of its person (people.py)

    @property
    def message_id(self) -> str | None:
        value = self.event.get("messageId")
        return str(value) if value is not None else None

    def parked(self, **changes: Any) -> QueuedEvent:
        """This message as the parking queue keeps it: the reason is its last error."""
        changed = replace(self, **changes)
        return replace(changed, reason=f"{changed.last_error.code}: {changed.last_error.message}")

    def to_json(self) -> str:
        """Not asdict(): it deep-copies the event recursively, and an event may be deeply nested. Text is
        kept as UTF-8, not escaped (`\\uXXXX` is 6 bytes a character: an emoji's 12), so a message is about
        the size the event was at intake, where its limit is counted."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["last_error"] = asdict(self.last_error)
        text = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
        return _NOT_FOR_SQS.sub(lambda found: f"\\u{ord(found.group()):04x}", text)

    @classmethod
    def from_json(cls, body: str) -> QueuedEvent:
        data = json.loads(body)
        data["last_error"] = LastError(**data["last_error"])
        return cls(**data)

    @classmethod
    def unreadable(cls, body: str, group: str, error: Exception) -> QueuedEvent:
        """A body this version cannot read (hand-sent, or an older format): kept whole, to be parked."""
        now = datetime.now(UTC).isoformat()
        return cls(
            event={"unreadable_body": body},
            action="unknown",
            step=Step.ALL,
            idempotency_key="unreadable-" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
            person=group or person_group(body),
            received_at=now,
            first_failed_at=now,
            last_error=LastError(None, "unreadable_message", f"{type(error).__name__}: {str(error)[:200]}"),
        )


@dataclass(frozen=True)
class Received:
    message: QueuedEvent
    receipt: str
    receive_count: int
    group: str
    sqs_id: str = ""  # SQS's MessageId: the same on every receive (tries.py counts failed tries by it)


class Queue:
    """One FIFO queue (the dead-letter queue, or the parking queue)."""

    def __init__(self, client: Any, url: str, executor: Executor | None = None, lanes: int = 8) -> None:
        self._sqs = client
        self.url = url
        self._executor = executor
        self._lanes = lanes

    def send(self, messages: list[QueuedEvent]) -> set[int]:
        """SendMessageBatch in tens, in parallel lanes; returns the positions of the messages SQS did not
        take (empty: all durable). A person's messages share one lane and go in order; once one of them
        is refused, their later ones are not sent either (they would overtake it when the SDK resends)."""
        lanes: dict[int, list[int]] = {}
        lane_of: dict[str, int] = {}
        for position, message in enumerate(messages):
            lane = lane_of.setdefault(message.person, len(lane_of) % self._lanes)
            lanes.setdefault(lane, []).append(position)
        results = fan_out(self._executor, lambda positions: self._send_lane(messages, positions), list(lanes.values()))
        return set().union(*results)

    def send_all(self, messages: list[QueuedEvent]) -> None:
        """Raises QueueUnavailableError unless every message was taken (the redrive's moves)."""
        if refused := self.send(messages):
            raise QueueUnavailableError(f"SQS refused {len(refused)} of {len(messages)} message(s)")

    def _send_lane(self, messages: list[QueuedEvent], positions: list[int]) -> set[int]:
        refused: set[int] = set()
        stopped: set[str] = set()
        bodies = {position: messages[position].to_json() for position in positions}
        for chunk in by_size(positions, lambda position: len(bodies[position].encode("utf-8", "surrogatepass"))):
            refused.update(position for position in chunk if messages[position].person in stopped)
            entries = {
                str(position): {
                    "Id": str(position),
                    "MessageBody": bodies[position],
                    "MessageGroupId": messages[position].person,
                    "MessageDeduplicationId": _dedup_id(messages[position]),
                }
                for position in chunk
                if messages[position].person not in stopped
            }
            failed = self._send_batch(list(entries.values()))
            if failed:  # partial failure: once more for those, then give up on them
                failed = self._send_batch([entries[entry_id] for entry_id in failed])
            for entry_id in failed:
                refused.add(int(entry_id))
                stopped.add(messages[int(entry_id)].person)
        return refused

    def _send_batch(self, entries: list[dict[str, str]]) -> list[str]:
        """The Ids SQS did not take (all of them if the call failed)."""
        if not entries:
            return []
        try:
            failed = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
        except (BotoCoreError, ClientError) as exc:
            logger.warning("SendMessageBatch failed", extra={"entries": len(entries), "error": str(exc)[:300]})
            return [entry["Id"] for entry in entries]
        return [str(entry["Id"]) for entry in failed]

    def receive(self, wait_seconds: int = 0) -> list[Received]:
        response = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=wait_seconds,
            # AttributeNames, deprecated but served, not MessageSystemAttributeNames: the runtime's botocore
            # may predate it (1.34.101), and with parameter validation off an unknown name is dropped silently.
            AttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        )
        return [_received(raw) for raw in response.get("Messages", [])]

    def delete(self, receipt: str) -> None:
        self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    def hide(self, receipt: str, seconds: int) -> None:
        """Back off: the message (and, FIFO, its person's later messages) come back after `seconds`."""
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=min(max(seconds, 0), MAX_VISIBILITY_SECONDS)
        )

    def delete_many(self, receipts: list[str]) -> None:
        """Done with these, 10 to a DeleteMessageBatch. One that fails comes back after its visibility
        timeout and is replayed again: an upsert or attach repeats harmlessly, and Intercom drops a repeat
        of an event (same contact, name and created_at)."""
        for chunk in chunked(receipts, BATCH_SIZE):
            entries = [{"Id": str(n), "ReceiptHandle": receipt} for n, receipt in enumerate(chunk)]
            failed = self._sqs.delete_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
            if failed:
                logger.warning("messages not deleted; they will be replayed again", extra={"count": len(failed)})

    def release(self, receipts: list[str]) -> None:
        """Visible again now, untried, 10 to a ChangeMessageVisibilityBatch (FIFO still holds each behind its
        person's head). One that fails comes back when its visibility timeout ends instead."""
        for chunk in chunked(receipts, BATCH_SIZE):
            entries = [
                {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": 0} for n, receipt in enumerate(chunk)
            ]
            failed = self._sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
            if failed:
                logger.warning(
                    "messages not released; they return after their visibility timeout", extra={"count": len(failed)}
                )

    def depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def by_size(items: Sequence[T], size_of: Callable[[T], int]) -> list[list[T]]:
    """`items` in order, in batches SQS takes: at most BATCH_SIZE, and at most BATCH_BYTES together (an item
    bigger than that alone goes alone, and SQS answers for it)."""
    batches: list[list[T]] = []
    total = 0
    for item in items:
        size = size_of(item)
        if not batches or len(batches[-1]) == BATCH_SIZE or total + size > BATCH_BYTES:
            batches.append([])
            total = 0
        batches[-1].append(item)
        total += size
    return batches


def _received(raw: dict[str, Any]) -> Received:
    attributes = raw.get("Attributes", {})
    group = attributes.get("MessageGroupId", "")
    return Received(
        message=_read(raw["Body"], group),
        receipt=raw["ReceiptHandle"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        group=group,
        sqs_id=raw["MessageId"],
    )


def _read(body: str, group: str) -> QueuedEvent:
    try:
        return QueuedEvent.from_json(body)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        return QueuedEvent.unreadable(body, group, exc)


def _dedup_id(message: QueuedEvent) -> str:
    return hashlib.sha256(f"{message.idempotency_key}|{message.step}|{message.attempts}".encode()).hexdigest()
