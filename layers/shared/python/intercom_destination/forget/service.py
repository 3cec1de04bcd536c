"""Forget a person (privacy law's right to erasure): an operator's command, never an HTTP route.

By userId and/or email: tombstones first (so a redrive running meanwhile drops their messages), then
every Intercom contact of theirs — by external_id, by email (users and leads), and the ids our identity
records and lead memory hold — is deleted in the configured region; their visible queued and parked
messages are deleted; our person records, lead memory and idempotency records for them go. Messages
hidden right now (backing off, or in flight) cannot be received: the redrive drops them when they come up,
by the tombstone (kept as long as a message can live). The tombstone is also what keeps a resend of one
of their old events — its idempotency record gone — from bringing them back: ingest drops an event of
theirs dated before the forget. Running it again finds nothing more: idempotent.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.durability.claims import Dedupe
from intercom_destination.durability.people import People
from intercom_destination.durability.queue import Queue, Received
from intercom_destination.intercom.client import Contact, IntercomClient
from intercom_destination.intercom.errors import NotFoundError
from intercom_destination.person import (
    email_key,
    hashed,
    is_email_key,
    person_group,
    person_ids,
    user_name,
    user_subject,
)

logger = Logger(child=True)
#: How long each queue is scanned, well inside the queues' 120 s visibility timeout (what a scan holds).
SCAN_SECONDS = 60


@dataclass
class Forgotten:
    """What one run removed (all zero on a second run)."""

    contacts: list[str] = field(default_factory=list)  # Intercom ids deleted
    queued: int = 0  # dead-letter queue messages deleted
    parked: int = 0  # parking queue messages deleted
    records: int = 0  # our person records and lead memory entries deleted
    claims: int = 0  # idempotency records of their events deleted
    hidden: int = 0  # anyone's messages not visible now (backing off, in flight): the redrive drops theirs later

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"deleted {len(self.contacts)} Intercom contact(s) {', '.join(self.contacts) or ''}".rstrip()
            + f"; removed {self.queued} queued and {self.parked} parked message(s)"
            + f"; deleted {self.records} record(s) of ours and {self.claims} idempotency record(s)"
            + (f"; {self.hidden} message(s) not visible now: the redrive drops theirs" if self.hidden else "")
        )


class ForgetIncompleteError(RuntimeError):
    """DynamoDB or SQS could not be reached: part of the forget may be done, and running it again finishes it."""


class Forgetter:
    def __init__(
        self,
        client: IntercomClient,
        people: People,
        dedupe: Dedupe,
        dead_letters: Queue,
        parking: Queue,
        scan_seconds: float = SCAN_SECONDS,
    ) -> None:
        self._scan_seconds = scan_seconds
        self._client = client
        self._people = people
        self._dedupe = dedupe
        self._dead_letters = dead_letters
        self._parking = parking

    def forget(self, user_id: str | None = None, email: str | None = None) -> Forgotten:
        """Raises ValueError without an id, ForgetIncompleteError when AWS cannot be reached, and Intercom's
        errors as they are: in every case, run it again (it is idempotent)."""
        user_id, email = str(user_id or "").strip() or None, str(email or "").strip().lower() or None
        if not user_id and not email:
            raise ValueError("give a userId or an email")
        try:
            return self._forget(user_id, email)
        except (BotoCoreError, ClientError) as exc:
            raise ForgetIncompleteError(
                f"the forget stopped: AWS could not be reached ({type(exc).__name__}: {str(exc)[:300]}); "
                "run it again, it is idempotent"
            ) from exc

    def _forget(self, user_id: str | None, email: str | None) -> Forgotten:
        started_ms = int(time.time() * 1000)
        ids = ([user_name(user_id)] if user_id else []) + ([email_key(email)] if email else [])
        self._people.tombstone(ids, started_ms)
        contacts, learned = self._contacts(user_id, email, ids)
        if learned:  # the userId behind an email, the email behind a userId: theirs too
            self._people.tombstone(learned, started_ms)
            ids += learned
        report = Forgotten()
        for contact_id in sorted(contacts):
            if self._client.delete_contact(contact_id):
                report.contacts.append(contact_id)
        report.queued, hidden = self._remove(self._dead_letters, set(ids))
        report.parked, hidden_parked = self._remove(self._parking, set(ids))
        report.hidden = hidden + hidden_parked
        emails = [person_id for person_id in ids if is_email_key(person_id)]
        report.records = self._people.forget([person_group(person_id) for person_id in ids], emails)
        report.claims = self._dedupe.forget({hashed(person_id) for person_id in ids})
        logger.info("person forgotten", extra={**report.as_dict(), "contacts": len(report.contacts)})
        return report

    def _contacts(self, user_id: str | None, email: str | None, ids: list[str]) -> tuple[set[str], list[str]]:
        """Every Intercom contact id of theirs we can find (Intercom's lookups, and what we remember), and
        the person ids those contacts add (their external_id, their email)."""
        found: list[Contact] = []
        if user_id:
            with contextlib.suppress(NotFoundError):
                found.append(self._client.find_user(user_id))
        if email:
            found += self._client.search_by_email(email)
        contact_ids = {contact.id for contact in found}
        if email and (lead := self._people.lead(email_key(email))):
            contact_ids.add(lead)
        keys = ([user_subject(user_id)] if user_id else []) + ([email_key(email)] if email else [])
        for record in self._people.read([person_group(person_id) for person_id in ids]).values():
            contact_ids |= {entry.value for entry in record.recalled(keys).values() if entry.value}
        learned = [user_name(contact.external_id) for contact in found if contact.external_id]
        learned += [email_key(contact.email) for contact in found if contact.email]
        return contact_ids, [person_id for person_id in dict.fromkeys(learned) if person_id not in ids]

    def _remove(self, queue: Queue, ids: set[str]) -> tuple[int, int]:
        """Receive every visible message, delete theirs at once (which lets FIFO hand out the next ones of
        their group), release the others at the end; (deleted, messages not seen). Bounded in time: what a
        long scan leaves unseen, the redrive drops by the tombstone."""
        deleted = 0
        others: list[Received] = []
        deadline = time.monotonic() + self._scan_seconds
        while time.monotonic() < deadline and (batch := queue.receive()):
            theirs = [received for received in batch if ids & set(person_ids(received.message.event))]
            queue.delete_many([received.receipt for received in theirs])
            deleted += len(theirs)
            others += [received for received in batch if received not in theirs]
        queue.release([received.receipt for received in others])
        return deleted, max(queue.depth() - len(others), 0)
