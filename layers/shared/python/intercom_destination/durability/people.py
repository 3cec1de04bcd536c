"""What we applied per person, and the leads we made, kept in DynamoDB (the idempotency table) so it
outlives a warm function and is shared by ingest and the redrive.

- Newest wins: per person, the event time of the last identify applied to each of their contacts (the
  user, a lead by email), and of the last group applied per company. An identify or group older than
  that (a replay after a newer event got through, or an SDK flushing an old offline queue) is skipped
  as `stale` instead of rolling the contact back.
- Waiting: how many of the person's messages wait in the dead-letter queue for a passing failure, and in
  which message group; while some do, the person's new events are queued behind them in that group
  (across requests, as FIFO does within one).
- Names: a person goes by a userId, an anonymousId and emails (person.person_names), and keeps a record
  under each name that was queued or written under. A request reads the records of every name its events
  carry and takes them as one (`joined`); a record under another name points to the primary record
  (`linked`), so an event that carries only the visitor's anonymousId or email finds what was written to
  the user they became.
- Identity: the person's part of the identity map (identity.py): contact and company ids, what was last
  written to each, the attaches made. A new function (an empty warm cache) starts from it, so a known
  user costs one PUT (not a create, a 409 and a read of its owner), an unchanged one nothing.
- Leads: email → the lead we created for it. A user identify with that email merges the lead even when
  Intercom's search has not indexed it yet and the warm cache is gone (a replay in a new function).

Our callers' ids are hashed in keys; only Intercom's own ids are stored in clear. A record expires after
the queues' retention from its last write, when no replay can be older.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.delivery.identity import Entry
from intercom_destination.durability.queue import QueuedEvent
from intercom_destination.durability.record_items import Update, applied_of, learned, newer
from intercom_destination.durability.records import (
    WAITING_SECONDS,
    Applied,
    Person,
    Remembered,
    Version,
    joined,
    waiting_records,
)
from intercom_destination.fanout import chunked, fan_out
from intercom_destination.person import hashed

logger = Logger(child=True)
_PERSON = "intercom-destination#person#"
_LEAD = "intercom-destination#lead#"
_FORGOTTEN = "intercom-destination#forgotten#"
#: SQS keeps a message 14 days; a day more, and no replay can be older than the record.
RETENTION_SECONDS = 15 * 24 * 3600
_BATCH_GET_KEYS = 100
_CONFLICT = "ConditionalCheckFailedException"
#: Links followed from a primary record (a visitor's email → the visitor → the user they became).
_LINK_HOPS = 2


def lead_key(subject: str) -> str:
    """`email:<address>` keys hash the bare address (as before visitors were remembered by anonymousId)."""
    kind, _, value = subject.partition(":")
    return _LEAD + hashed(value.strip().lower() if kind == "email" else subject)


class People:
    """The person records and the lead memory, in the idempotency table (ids hashed, see above)."""

    def __init__(
        self, client: Any, table: str, executor: Executor | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._dynamodb = client
        self._table = table
        self._executor = executor
        self._clock = clock

    # --- newest wins ----------------------------------------------------------------------------
    def read(self, people: Iterable[str]) -> dict[str, Applied]:
        """Records of `people` (their FIFO group hashes). Raises botocore errors: the caller decides what
        an unreadable record means."""
        return self._records(people, ())[0]

    def lookup(
        self, people: Mapping[str, Iterable[str]], ids: Iterable[str] = ()
    ) -> tuple[dict[str, Person], dict[str, int]]:
        """Each person (their primary record key → the record keys of all their names) as one, following
        the primary record's link to the user it became; and which of the person ids `ids` were forgotten
        and when (unix ms). One BatchGetItem per 100 keys, and one more per hop only when a link leads to a
        record not read yet. Raises botocore errors."""
        records, forgotten = self._records({key for keys in people.values() for key in keys} | set(people), ids)
        primary_of = {person: person for person in people}
        for _ in range(_LINK_HOPS):
            links = {person: link for person, at in primary_of.items() if (link := records[at].linked) not in ("", at)}
            if not links:
                break
            if missing := {link for link in links.values() if link not in records}:
                records |= self._records(missing, ())[0]
            primary_of |= links
        now = self._clock()
        found = {}
        for person, keys in people.items():
            primary = primary_of[person]
            names = {key: records[key] for key in [*keys, person, primary]}
            unlinked = [key for key, record in names.items() if key != primary and record.linked != primary]
            found[person] = Person(primary, joined(primary, names, now), unlinked, dict(records[primary].applied_at))
        return found, forgotten

    def _records(self, people: Iterable[str], ids: Iterable[str]) -> tuple[dict[str, Applied], dict[str, int]]:
        """Records of `people` (absent ones empty) and the forgotten ids of `ids`, in one BatchGetItem per
        100 keys."""
        wanted = list(dict.fromkeys(people))
        by_key = {_FORGOTTEN + hashed(person_id): person_id for person_id in dict.fromkeys(ids)}
        found = self._get_items([_PERSON + person for person in wanted] + list(by_key))
        records = {
            person: applied_of(found[_PERSON + person]) if _PERSON + person in found else Applied() for person in wanted
        }
        forgotten = {by_key[key]: int(found[key]["forgotten_at"]["N"]) for key in by_key if key in found}
        return records, forgotten

    def link(self, names: list[str], primary: str) -> None:
        """Point the records of a person's other names to their primary record (once; best effort)."""
        fan_out(
            self._executor,
            lambda name: self._call(
                "SET linked = :p, expiration = :e",
                name,
                {":p": {"S": primary}, ":e": {"N": str(int(self._clock()) + RETENTION_SECONDS)}},
            ),
            names,
        )

    def _get_items(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Items by id: BatchGetItem per 100 ids in parallel, what DynamoDB leaves unprocessed asked again."""
        found: dict[str, dict[str, Any]] = {}
        for part in fan_out(self._executor, self._get_chunk, chunked(ids, _BATCH_GET_KEYS)):
            found.update(part)
        return found

    def _get_chunk(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = {}
        keys: list[dict[str, Any]] = [{"id": {"S": key}} for key in ids]
        for _ in range(4):  # what DynamoDB left unprocessed, again
            response = self._dynamodb.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
            for item in response.get("Responses", {}).get(self._table, []):
                found[item["id"]["S"]] = item
            keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not keys:
                break
        return found

    def remember(self, updates: Sequence[Remembered]) -> None:
        """Per person, in one update: the identify and group versions just applied and the identity entries
        that changed (a tombstone forgets one), each only over an older one: of concurrent writers, the newest
        version and the latest learned entry stay. Failures are logged: the worst outcome is a later stale
        replay applied, or a lookup made again, as without this record. A person's other names are pointed
        to the record written (People.link)."""
        fan_out(self._executor, self._remember, [update for update in updates if update.versions or update.changed])

    def _remember(self, update: Remembered) -> None:
        person, versions, changed, seen, unlinked = update
        self._write(person, versions, changed, seen)
        if unlinked:
            self.link(list(unlinked), person)

    def _write(
        self, person: str, versions: list[Version], changed: dict[str, Entry], seen: Mapping[str, int] | None
    ) -> None:
        newest: dict[str, int] = {}
        for version in versions:
            for subject in version.subjects:
                key = hashed(subject)
                newest[key] = max(newest.get(key, 0), version.occurred_ms)
        entries = {hashed(key): entry for key, entry in changed.items()}
        if self._update(person, newer(newest, seen), learned(entries)) != _CONFLICT:
            return
        # Something changed since the record was read: each part on its own, the rest still recorded. A
        # version of a subject that another request recorded meanwhile (older or newer) was written to
        # Intercom at the same time as this one, and either write may have landed last: what is there is in
        # doubt, so the person's next identify or group of that subject is written again, never skipped as
        # unchanged (without a per-person lock, which would cost a write per event, this is the repair).
        doubted = set()
        for key, ms in newest.items():
            if seen is None or self._update(person, newer({key: ms}, seen)) == _CONFLICT:
                doubted.add(key)
                self._update(person, newer({key: ms}))
        doubt = Entry("", int(self._clock() * 1000))
        for version in versions:
            if seen is not None and hashed(version.subject) in doubted:
                entries[hashed(f"written:{version.subject}")] = doubt
        for key, entry in entries.items():
            self._update(person, learned({key: entry}))

    def _update(self, person: str, *parts: Update) -> str | None:
        """One UpdateItem of keys inside the record's maps, refreshing its expiry. A map must exist before
        a key is set in it: on a person's first record the maps are made, then the update made again."""
        expression = "SET " + ", ".join(["expiration = :e", *(item for part in parts for item in part.sets)])
        values: dict[str, Any] = {":e": {"N": str(int(self._clock()) + RETENTION_SECONDS)}}
        names: dict[str, str] = {}
        for part in parts:
            values |= part.values
            names |= part.names
        condition = " AND ".join(c for part in parts for c in part.conditions) or None
        update = (expression, person, values, condition, names)
        code = self._call(*update)
        if code == "ValidationException":  # no map yet
            maps = [attribute for part in parts if part.sets for attribute in part.maps]
            making = ", ".join(f"{m} = if_not_exists({m}, :empty)" for m in maps)
            self._call(f"SET {making}", person, {":empty": {"M": {}}})
            code = self._call(*update)
            if code == "ValidationException":
                logger.warning("person record not written", extra={"maps": maps})
        return code

    def _call(
        self,
        update_expression: str,
        key: str,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
    ) -> str | None:
        """UpdateItem; returns DynamoDB's error code instead of raising (the records are best effort)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"id": {"S": _PERSON + key}},
            "UpdateExpression": update_expression,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._dynamodb.update_item(**request)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("ConditionalCheckFailedException", "ValidationException"):
                logger.warning("person record not written", extra={"error": str(exc)[:300]})
            return code
        except BotoCoreError as exc:
            logger.warning("person record not written", extra={"error": str(exc)[:300]})
            return type(exc).__name__
        return None

    # --- events waiting in the dead-letter queue --------------------------------------------------
    def queued(self, messages: Iterable[QueuedEvent], now: float) -> None:
        """These messages wait for a passing failure (not for a later event): each counts on the record of
        every name of its person (waiting_records), with the group it waits in."""
        counts: Counter[tuple[str, str]] = Counter(
            (record, message.person) for message in messages for record in waiting_records(message)
        )
        values = {":until": {"N": str(int(now) + WAITING_SECONDS)}, ":e": {"N": str(int(now) + RETENTION_SECONDS)}}
        fan_out(
            self._executor,
            lambda entry: self._call(
                "ADD waiting :n SET waiting_until = :until, queued_in = :g, expiration = :e",
                entry[0][0],
                {":n": {"N": str(entry[1])}, ":g": {"S": entry[0][1]}, **values},
            ),
            list(counts.items()),
        )

    def replayed(self, message: QueuedEvent) -> None:
        """One of the person's waiting messages left the queue (delivered, stale or parked)."""
        for record in waiting_records(message):
            self._call("ADD waiting :minus", record, {":minus": {"N": "-1"}, ":zero": {"N": "0"}}, "waiting > :zero")

    # --- leads ----------------------------------------------------------------------------------
    def lead(self, subject: str) -> str | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"id": {"S": lead_key(subject)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return str(item["lead_id"]["S"]) if item else None

    def lead_created(self, subjects: list[str], lead_id: str) -> None:
        expiration = {"N": str(int(self._clock()) + RETENTION_SECONDS)}
        for subject in subjects:
            item = {"id": {"S": lead_key(subject)}, "lead_id": {"S": lead_id}, "expiration": expiration}
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def lead_merged(self, subjects: list[str]) -> None:
        for subject in subjects:
            self._dynamodb.delete_item(TableName=self._table, Key={"id": {"S": lead_key(subject)}})

    # --- forgetting a person ---------------------------------------------------------------------
    def forget(self, people: list[str], lead_subjects: list[str]) -> int:
        """Delete the person records (by group hash) and lead memory entries; returns how many existed."""
        keys = [_PERSON + person for person in people] + [lead_key(subject) for subject in lead_subjects]
        deleted = 0
        for key in keys:
            response = self._dynamodb.delete_item(TableName=self._table, Key={"id": {"S": key}}, ReturnValues="ALL_OLD")
            deleted += "Attributes" in response
        return deleted

    def tombstone(self, ids: list[str], at_ms: int) -> None:
        """Mark person ids (`userId:…`, `email:…`, hashed) forgotten as of `at_ms`, for good: the redrive
        drops a message of theirs received before it, ingest an event of theirs dated before it (an SDK's or
        a pipeline's resend, a backfill of any age). The hashes are the suppression list (docs/privacy.md)."""
        for person_id in ids:
            item = {"id": {"S": _FORGOTTEN + hashed(person_id)}, "forgotten_at": {"N": str(at_ms)}}
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def forgotten(self, ids: Iterable[str]) -> dict[str, int]:
        """Which of these person ids were forgotten, and when (unix ms). Raises botocore errors."""
        return self._records((), ids)[1]
