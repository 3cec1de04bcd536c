"""Parked messages back to the dead-letter queue once their cause is fixed (`make unpark`; in AWS,
`aws sqs start-message-move-task` does the same)."""

from __future__ import annotations

from dataclasses import replace

from intercom_destination.durability.queue import Queue, QueuedEvent


def unpark(parking: Queue, dead_letters: Queue) -> int:
    """Move every parked message back. The attempt count rises, which also gives SQS a new dedup id."""
    moved = 0
    while batch := parking.receive():
        dead_letters.send_all([_revived(received.message) for received in batch])
        for received in batch:
            parking.delete(received.receipt)
        moved += len(batch)
    return moved


def _revived(message: QueuedEvent) -> QueuedEvent:
    return replace(message, reason="", attempts=message.attempts + 1)
