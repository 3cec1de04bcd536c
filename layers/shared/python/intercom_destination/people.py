"""What we applied per person, and the leads we made, kept in DynamoDB (the idempotency table) so it
outlives a warm function and is shared by ingest and the redrive.

- Newest wins: per person, the event time of the last identify applied to each of their contacts (the
  user, a lead by email), and of the last group applied per company. An identify or group older than
  that (a replay after a newer event got through, or an SDK flushing an old offline queue) is skipped
  as `stale` instead of rolling the contact back.
- Waiting: how many of the person's messages wait in the dead-letter queue for a passing failure; while
  some do, the person's new events are queued behind them (across requests, as FIFO does within one).
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from .fanout import chunked, fan_out
from .identity import Entry, hashed
from .mapping.fields import AnyCall
from .mapping.plans import ContactRef, GroupPlan, IdentifyPlan, Plan

logger = Logger(child=True)
_PERSON = "intercom-destination#person#"
_LEAD = "intercom-destination#lead#"
_FORGOTTEN = "intercom-destination#forgotten#"
#: SQS keeps a message 14 days; a day more, and no replay can be older than the record.
RETENTION_SECONDS = 15 * 24 * 3600
_BATCH_GET_KEYS = 100
#: How long a person's new events queue behind their waiting ones, from the last one queued. Bounds the
#: harm of a count that SQS's own maxReceiveCount parking left too high: an hour of queueing, no loss.
WAITING_SECONDS = 3600


@dataclass(frozen=True)
class Version:
    """What an identify or group overwrites (its subject: the contact, or the company of a group) and as of
    when (its event time, unix ms)."""

    subject: str
    occurred_ms: int


def version_of(plan: Plan, call: AnyCall, received_at: datetime) -> Version | None:
    """Only Identify Contact and Identify Company overwrite state; tracks are events of their own time. A
    visitor's lead (by email) and their user (by userId) are different contacts, so different subjects."""
    match plan:
        case GroupPlan():
            subject = f"group:{plan.company['company_id']}"
        case IdentifyPlan(contact=ContactRef(external_id=str() as user_id)):
            subject = f"user:{user_id}"
        case IdentifyPlan(contact=ContactRef(email=str() as email)):
            subject = f"email:{email.lower()}"
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

    def recalled(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries this record holds for `keys` (identity keys in clear), tombstones included."""
        return {key: entry for key in keys if (entry := self.identity.get(hashed(key)))}

    def changes(self, known: Mapping[str, Entry]) -> dict[str, Entry]:
        """What is `known` now that this record lacks, or holds otherwise and learned earlier (a tombstone:
        proven wrong, to be forgotten by every function)."""
        changed = {}
        for key, entry in known.items():
            held = self.identity.get(hashed(key))
            if held is None or (held.value != entry.value and entry.at > held.at):
                changed[key] = entry
        return changed

    def has_waiting(self, now: float) -> bool:
        """Queue this person's new events behind the ones already waiting, so none overtakes them."""
        return self.waiting > 0 and now < self.waiting_until

    def is_stale(self, version: Version) -> bool:
        last = self.applied_at.get(hashed(version.subject))
        return last is not None and version.occurred_ms < last

    def note(self, version: Version) -> None:
        """Applied now: later, older events of this person in the same run are stale too."""
        key = hashed(version.subject)
        self.applied_at[key] = max(self.applied_at.get(key, 0), version.occurred_ms)


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
        return self.lookup(people, ())[0]

    def lookup(self, people: Iterable[str], ids: Iterable[str]) -> tuple[dict[str, Applied], dict[str, int]]:
        """Records of `people`, and which of the person ids `ids` were forgotten and when (unix ms): one
        BatchGetItem per 100 keys for both. Raises botocore errors."""
        wanted = list(dict.fromkeys(people))
        by_key = {_FORGOTTEN + hashed(person_id): person_id for person_id in dict.fromkeys(ids)}
        found = self._get_items([_PERSON + person for person in wanted] + list(by_key))
        records = {
            person: _applied(found[_PERSON + person]) if _PERSON + person in found else Applied() for person in wanted
        }
        forgotten = {by_key[key]: int(found[key]["forgotten_at"]["N"]) for key in by_key if key in found}
        return records, forgotten

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

    def remember(self, updates: list[tuple[str, list[Version], dict[str, Entry]]]) -> None:
        """Per person, in one update: the identify and group versions just applied and the identity entries
        that changed (a tombstone forgets one), each only over an older one: of concurrent writers, the newest
        version and the latest learned entry stay. Failures are logged: the worst outcome is a later stale
        replay applied, or a lookup made again, as without this record."""
        fan_out(self._executor, lambda update: self._remember(*update), [u for u in updates if u[1] or u[2]])

    def _remember(self, person: str, versions: list[Version], changed: dict[str, Entry]) -> None:
        newest: dict[str, int] = {}
        for version in versions:
            key = hashed(version.subject)
            newest[key] = max(newest.get(key, 0), version.occurred_ms)
        entries = {hashed(key): entry for key, entry in changed.items()}
        if self._update(person, _newer(newest), _learned(entries)) == "ConditionalCheckFailedException":
            # Something of it is newer already: each part on its own, the rest still recorded.
            for key, ms in newest.items():
                self._update(person, _newer({key: ms}))
            for key, entry in entries.items():
                self._update(person, _learned({key: entry}))

    def _update(self, person: str, *parts: _Update) -> str | None:
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
    def queued(self, counts: dict[str, int], now: float) -> None:
        """`counts[person]` more of their messages wait for a passing failure (not for a later event)."""
        values = {":until": {"N": str(int(now) + WAITING_SECONDS)}, ":e": {"N": str(int(now) + RETENTION_SECONDS)}}
        fan_out(
            self._executor,
            lambda entry: self._call(
                "ADD waiting :n SET waiting_until = :until, expiration = :e",
                entry[0],
                {":n": {"N": str(entry[1])}, **values},
            ),
            list(counts.items()),
        )

    def replayed(self, person: str) -> None:
        """One of the person's waiting messages left the queue (delivered, stale or parked)."""
        self._call("ADD waiting :minus", person, {":minus": {"N": "-1"}, ":zero": {"N": "0"}}, "waiting > :zero")

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
        """Mark person ids (`userId:…`, `email:…`, hashed) forgotten as of `at_ms`, for as long as a queued
        message can live: the redrive drops a message of theirs received before it, ingest an event of theirs
        dated before it (an SDK's or a pipeline's resend)."""
        expiration = {"N": str(int(self._clock()) + RETENTION_SECONDS)}
        for person_id in ids:
            item = {
                "id": {"S": _FORGOTTEN + hashed(person_id)},
                "forgotten_at": {"N": str(at_ms)},
                "expiration": expiration,
            }
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def forgotten(self, ids: Iterable[str]) -> dict[str, int]:
        """Which of these person ids were forgotten, and when (unix ms). Raises botocore errors."""
        return self.lookup((), ids)[1]


@dataclass
class _Update:
    """SET clauses for keys inside map attributes of a person's record, each only over an older value."""

    maps: tuple[str, ...]  # the map attributes it sets keys in (made first on a person's first record)
    sets: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)


def _newer(newest: dict[str, int]) -> _Update:
    """applied_at entries, each only if newer than what a concurrent request recorded (never roll back)."""
    update = _Update(("applied_at",))
    for n, (key, ms) in enumerate(newest.items()):
        path = f"applied_at.#a{n}"
        update.names[f"#a{n}"] = key
        update.values[f":a{n}"] = {"N": str(ms)}
        update.sets.append(f"{path} = :a{n}")
        update.conditions.append(f"(attribute_not_exists({path}) OR {path} < :a{n})")
    return update


def _learned(entries: dict[str, Entry]) -> _Update:
    """id_map entries (value) with id_at (when learned), each only if learned later than what is recorded."""
    update = _Update(("id_map", "id_at"))
    for n, (key, entry) in enumerate(entries.items()):
        update.names[f"#k{n}"] = key
        update.values |= {f":k{n}": {"S": entry.value}, f":t{n}": {"N": str(entry.at)}}
        update.sets += [f"id_map.#k{n} = :k{n}", f"id_at.#k{n} = :t{n}"]
        update.conditions.append(f"(attribute_not_exists(id_at.#k{n}) OR id_at.#k{n} < :t{n})")
    return update


def _identity(item: dict[str, Any]) -> dict[str, Entry]:
    """id_map values with their id_at times; an entry from before times were kept counts as learned at 0."""
    times = item.get("id_at", {}).get("M", {})
    return {
        key: Entry(value["S"], int(times.get(key, {}).get("N", 0)))
        for key, value in item.get("id_map", {}).get("M", {}).items()
        if "S" in value
    }


def _applied(item: dict[str, Any]) -> Applied:
    return Applied(
        applied_at={
            key: int(value["N"]) for key, value in item.get("applied_at", {}).get("M", {}).items() if "N" in value
        },
        waiting=int(item.get("waiting", {}).get("N", 0)),
        identity=_identity(item),
        waiting_until=int(item.get("waiting_until", {}).get("N", 0)),
    )
