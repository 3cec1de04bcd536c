"""What one event becomes in a request: a work per action it fires, and how it ended (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from intercom_destination.delivery.errors import WAITS_FOR_LATER_EVENT, Step
from intercom_destination.durability.queue import QueuedEvent
from intercom_destination.durability.records import Version
from intercom_destination.mapping.actions import Action
from intercom_destination.mapping.plans import Plan
from intercom_destination.person import hashed


@dataclass(frozen=True)
class Unmappable:
    """An event that passed validation but made the mapping raise (a bug of ours): it is parked."""

    error: str


@dataclass(frozen=True)
class Work:
    index: int
    message_id: str | None
    call_type: str
    plan: Plan | Unmappable
    event: dict[str, Any]
    key: str  # idempotency key: the event's, and the action's name unless it is the type's default action
    occurred_ms: int  # the event's time (unix ms): a forget drops what is dated before it
    ids: tuple[str, ...]  # the person ids a forget names (person.person_ids)
    version: Version | None = None  # what an identify or group would set, and as of when
    action: Action | None = None  # None: no action fired (integrations off, or no trigger matched)
    browser: bool = False  # sent with a browser key: it may not change an existing user's email

    @cached_property
    def tags(self) -> list[str]:
        """Its person ids as its idempotency record keeps them (hashed), so a forget finds the record."""
        return [hashed(person_id) for person_id in self.ids]


class Ending(StrEnum):
    """How an event ends in a request (the `<type>.<ending>` metrics and the logs' `outcome` use the values)."""

    DELIVERED = "delivered"
    NO_LEAD = "no_lead"  # a Merge Lead with nothing to merge
    SKIPPED = "skipped"  # no action fired (integrations off, no trigger matched)
    DUPLICATE = "duplicate"  # its messageId was handled before
    STALE = "stale"  # older than an identify or group already applied (newest wins)
    FORGOTTEN = "forgotten"  # dated before its person was forgotten
    BUSY = "busy"  # claimed by another request right now, or not made durable: the SDK resends it
    QUEUED = "queued"  # on the dead-letter queue, for the redrive
    PARKED = "parked"  # refused by Intercom for good, in the parking queue

    @property
    def settled(self) -> bool:
        """Done, or durable: its claim is completed (BUSY and SKIPPED leave none to complete)."""
        return self not in (Ending.BUSY, Ending.SKIPPED, Ending.DUPLICATE)


@dataclass(frozen=True)
class Outcome:
    """How one event ended in this request. `queued` / `parked` carry the message still to be sent."""

    name: Ending
    message: QueuedEvent | None = None

    @property
    def holds_back(self) -> bool:
        """The person's later events queue behind it: it waits for a passing failure. (A group or track
        waiting for its contact to exist waits for a later event, the identify, which must not wait.)"""
        return (
            self.name is Ending.QUEUED
            and self.message is not None
            and self.message.last_error.code != WAITS_FOR_LATER_EVENT
        )

    @property
    def applied(self) -> bool:
        """Its identify or group is in Intercom: delivered, or queued or parked after its company was written."""
        return self.name is Ending.DELIVERED or (self.message is not None and self.message.step == Step.ATTACH)


#: What happens to a queued or parked event next, said where it is logged.
NEXT = {
    Ending.QUEUED: "the redrive replays it (every RedriveSchedule; locally `make replay`)",
    Ending.PARKED: "it waits in the parking queue: fix the cause, then move it back (locally `make unpark`)",
}
