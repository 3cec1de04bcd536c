"""What a person's records hold, as the ingest and the redrive read them (apart from the DynamoDB calls that
read and write them, in people.py): the versions applied (newest wins), the waiting messages and their
group, their identity-map entries, and a person's records under all their names taken as one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from intercom_destination.delivery.identity import Entry
from intercom_destination.durability.queue import QueuedEvent
from intercom_destination.mapping.fields import AnyCall
from intercom_destination.mapping.plans import ContactRef, DetachPlan, GroupPlan, IdentifyPlan, Plan
from intercom_destination.person import email_key, hashed, person_group, person_names, primary_name, user_subject

#: How long a person's new events queue behind their waiting ones, from the last one queued. Bounds the
#: harm of a count that SQS's own maxReceiveCount parking left too high: an hour of queueing, no loss.
WAITING_SECONDS = 3600


@dataclass(frozen=True)
class Version:
    """What an identify or group overwrites (its subject: the contact, or the company of a group) and as of
    when (its event time, unix ms). `covers`: other subjects that name the same contact once it is applied
    (a user's email): an older identify by that email alone is stale too, never written over the user."""

    subject: str
    occurred_ms: int
    covers: tuple[str, ...] = ()

    @property
    def subjects(self) -> tuple[str, ...]:
        return (self.subject, *self.covers)


def version_of(plan: Plan, call: AnyCall, received_at: datetime) -> Version | None:
    """Only Identify Contact and Identify Company overwrite state; tracks are events of their own time. A
    visitor's lead (by email) and their user (by userId) are different contacts, so different subjects."""
    match plan:
        case GroupPlan():
            subject = f"group:{plan.company['company_id']}"
        case DetachPlan():  # the same subject: of an attach and a detach of one pair, the newer wins
            subject = f"group:{plan.company_id}"
        case IdentifyPlan(contact=ContactRef(external_id=str() as user_id, email=email)):
            covers = (email_key(email),) if email else ()
            return Version(user_subject(user_id), int(call.occurred_at(received_at).timestamp() * 1000), covers)
        case IdentifyPlan(contact=ContactRef(email=str() as email)):
            subject = email_key(email)
        case _:
            return None
    return Version(subject, int(call.occurred_at(received_at).timestamp() * 1000))


@dataclass
class Applied:
    """One person's record: per subject, the event time (unix ms) of the last identify or group applied."""

    applied_at: dict[str, int] = field(default_factory=dict)  # keys are hashes of subjects
    waiting: int = 0  # messages of this person in the dead-letter queue for a passing failure
    waiting_until: int = 0  # unix s; past it, `waiting` is not trusted (SQS may have parked them itself)
    identity: dict[str, Entry] = field(default_factory=dict)  # hash of an identity key → its entry
    queued_in: str = ""  # the message group the waiting messages are in ("": this record's own)
    linked: str = ""  # the primary record of the person this name belongs to ("": none, or itself)

    def recalled(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries this record holds for `keys` (identity keys in clear), tombstones included."""
        return {key: entry for key in keys if (entry := self.identity.get(hashed(key)))}

    def changes(self, known: Mapping[str, Entry]) -> dict[str, Entry]:
        """What is `known` now that this record lacks, or holds otherwise and learned earlier (a tombstone:
        proven wrong, to be forgotten by every function). A tombstone of what the record never held is no
        change (a track's 404 for a contact nobody knew yet costs no write)."""
        changed = {}
        for key, entry in known.items():
            held = self.identity.get(hashed(key))
            if entry.value if held is None else held.value != entry.value and entry.at > held.at:
                changed[key] = entry
        return changed

    def has_waiting(self, now: float) -> bool:
        """Queue this person's new events behind the ones already waiting, so none overtakes them."""
        return self.waiting > 0 and now < self.waiting_until

    def is_stale(self, version: Version) -> bool:
        """Older than the last applied to its own subject (what it covers never makes it stale: a signup
        older than the visitor's lead identify still makes the user)."""
        last = self.applied_at.get(hashed(version.subject))
        return last is not None and version.occurred_ms < last

    def note(self, version: Version) -> None:
        """Applied now: later, older events of this person in the same run are stale too."""
        for subject in version.subjects:
            key = hashed(subject)
            self.applied_at[key] = max(self.applied_at.get(key, 0), version.occurred_ms)


def joined(primary: str, records: Mapping[str, Applied], now: float) -> Applied:
    """A person's records under all their names (record key → record) as one: the newest applied time per
    subject, the latest learned identity entry per key, and the waiting messages' group (the primary's
    first: one person's messages are kept in one group)."""
    person = Applied()
    for group, record in sorted(records.items(), key=lambda item: item[0] != primary):
        for key, ms in record.applied_at.items():
            person.applied_at[key] = max(person.applied_at.get(key, 0), ms)
        for key, entry in record.identity.items():
            if (held := person.identity.get(key)) is None or entry.at > held.at:
                person.identity[key] = entry
        if record.has_waiting(now) and not person.has_waiting(now):
            person.waiting, person.waiting_until = record.waiting, record.waiting_until
            person.queued_in = record.queued_in or group
    return person


class Remembered(NamedTuple):
    """One person's update: their primary record, the versions applied, the identity entries that changed,
    that record's applied times as read before the writes (None: not read; no doubt is detected), and the
    records of their other names to point to the primary once something is written."""

    person: str
    versions: list[Version]
    changed: dict[str, Entry]
    seen: Mapping[str, int] | None = None
    unlinked: Sequence[str] = ()


@dataclass(frozen=True)
class Person:
    """A person as a request or a replay sees them: the record their identifies and groups are written to
    (their primary name's, or the user's their primary name links to), all their names' records as one,
    the records of their other names that do not point to the primary yet, and the primary's applied times
    as read (what `remember` compares with to see a concurrent writer)."""

    primary: str
    record: Applied
    unlinked: list[str]
    seen: dict[str, int] = field(default_factory=dict)

    def remembered(self, versions: list[Version], changed: dict[str, Entry]) -> Remembered:
        return Remembered(self.primary, versions, changed, self.seen, self.unlinked)

    def queue_group(self, now: float) -> str:
        """The message group of anything of theirs queued now: behind what waits, else the primary's."""
        return (self.record.queued_in or self.primary) if self.record.has_waiting(now) else self.primary


def names_of(event: dict[str, Any], fallback: str) -> tuple[str, list[str]]:
    """An event's person as record keys: the primary (`fallback` if the event names nobody) and every name."""
    names = person_names(event)
    if not names:
        return fallback, [fallback]
    return person_group(primary_name(names)), [person_group(name) for name in names]


def waiting_records(message: QueuedEvent) -> list[str]:
    """The records a queued message counts on while it waits: its group's, and (since format 2) those of
    every name of its person, so that an event carrying any one of them queues behind it."""
    if message.version < 2:
        return [message.person]
    return list(dict.fromkeys([message.person, *names_of(message.event, message.person)[1]]))
