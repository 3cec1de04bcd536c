"""At most once per messageId (per write key) within a window, claimed for a whole request at once.

An event is claimed (an INPROGRESS record naming the request, written only if none is live) before its
first Intercom call. When the request has delivered or durably queued what it claimed, it writes one
completion record for itself; what it gives back (the queue refused it) is released, so the SDK's resend
can try again. A resend that finds a claim reads the completion of the request it names (one read, only
on resends): completed means done; not completed means busy while the claim is young, and free after the
claim time (the request crashed), when the resend takes the claim over. So an event costs one write unit,
its claim, plus a share of its request's completion.

The records are powertools-idempotency-shaped (`id`, `status`, `expiration`), but written in batches,
which powertools' persistence layer cannot do: claims go 25 to a BatchExecuteStatement of PartiQL
INSERTs (each a standard write, 1 unit, failing alone if the record exists), so a request of 100 events
makes 4 calls rather than 100 (botocore's per-call CPU was most of the handler's). An INSERT that failed
(a resend, an expired record TTL has not deleted yet, a throttled statement) is tried again as a
conditional PutItem, whose condition decides what the existing record means.

A claim carries its event's person tags (hashed userId and emails, never in clear) so that forgetting a
person deletes their records too (`forget`); a record under 1 KB costs the same write units with them.
An event dated before its person's forget keeps a record without tags. Records written per event before
completions existed (status COMPLETED) still count as done.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from enum import StrEnum
from functools import partial
from typing import Any, cast

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.fanout import chunked, fan_out

logger = Logger(child=True)
#: Fields that differ between an SDK's sends of the same event.
_VOLATILE = ("sentAt", "writeKey")
_PREFIX = "intercom-destination#event#"
_REQUEST_PREFIX = "intercom-destination#request#"
#: DynamoDB's limits per call.
BATCH_STATEMENTS = 25
BATCH_WRITE_ITEMS = 25
#: Rounds of retrying what DynamoDB left undone (unprocessed writes).
_ROUNDS = 4
#: Person tags kept per record: an event names its person by a userId and a few emails.
MAX_TAGS = 8
#: Parallel segments of a forget's scan of the table.
SCAN_SEGMENTS = 4
#: A claim's attributes, in the order of its INSERT's parameters (`people` last: it may be absent).
_CLAIM_ATTRIBUTES = ("id", "status", "request", "expiration", "in_progress_expiration", "people")


class Claim(StrEnum):
    NEW = "new"  # ours to deliver
    DONE = "done"  # delivered or queued before: skip
    BUSY = "busy"  # another invocation is delivering it right now


#: What a claim's write found: the claim made (NEW), not made (BUSY), or the live record in its way.
Found = Claim | dict[str, Any]


def idempotency_key(write_key: str, event: dict[str, Any]) -> str:
    """messageId scoped to the write key; an event without one is keyed by its content."""
    scope = hashlib.sha256(write_key.encode()).hexdigest()[:12]
    message_id = event.get("messageId")
    if message_id not in (None, ""):
        return f"{scope}:{message_id}"
    content = json.dumps({k: v for k, v in event.items() if k not in _VOLATILE}, sort_keys=True, default=str)
    return f"{scope}:content-{hashlib.sha256(content.encode()).hexdigest()}"


class Dedupe:
    def __init__(
        self,
        client: Any,
        table: str,
        window_seconds: int,
        claim_ttl_seconds: float,
        executor: Executor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = client
        self._table = table
        self._window = window_seconds
        self._claim_ttl = claim_ttl_seconds
        self._executor = executor
        self._clock = clock

    def claim(self, tags_of: Mapping[str, Sequence[str]], request: str) -> dict[str, Claim]:
        """Claim every key for `request`, each recorded with its person tags. Raises botocore errors if the
        table is unreachable: the caller then accepts none of these events (the SDK resends)."""
        insert = partial(self._insert_chunk, tags_of=tags_of, request=request, now=self._clock())
        found: dict[str, Found | BotoCoreError | ClientError] = {}
        for result in fan_out(self._executor, insert, chunked(list(tags_of), BATCH_STATEMENTS)):
            found.update(result)
        failures = [result for result in found.values() if isinstance(result, Exception)]
        if failures and len(failures) == len(found):
            raise failures[0]
        if failures:  # throttled past botocore's retries: only these events are answered "resend"
            logger.warning(
                "idempotency claims failed", extra={"events": len(failures), "error": str(failures[0])[:300]}
            )
        return self._decide(
            {key: Claim.BUSY if isinstance(result, Exception) else result for key, result in found.items()},
            tags_of,
            request,
        )

    def complete(self, request: str, unreleased: Collection[str] = (), untagged: Collection[str] = ()) -> list[str]:
        """Record that `request` is done: every event it claimed is delivered or durably queued, except the
        `unreleased` ones (given back, but their release failed: a resend takes them over once their claim
        is old). The `untagged` keys' records are rewritten as done without person tags (their person was
        forgotten). Raises botocore errors if the completion is not written; returns the untagged keys not
        rewritten."""
        now = int(self._clock())
        item: dict[str, Any] = {
            "id": {"S": _REQUEST_PREFIX + request},
            "status": {"S": "COMPLETED"},
            "expiration": {"N": str(now + self._window)},  # outlives every claim naming it
        }
        if unreleased:
            item["unreleased"] = {"SS": sorted(set(unreleased))}
        self._dynamodb.put_item(TableName=self._table, Item=item)
        done = {"status": {"S": "COMPLETED"}, "expiration": {"N": str(now + self._window)}}
        return self._batch_write([{"PutRequest": {"Item": {"id": {"S": _PREFIX + key}} | done}} for key in untagged])

    def release(self, keys: Iterable[str]) -> list[str]:
        """Free events for the SDK's resend; returns the keys still claimed (their claims expire)."""
        return self._batch_write([{"DeleteRequest": {"Key": {"id": {"S": _PREFIX + key}}}} for key in set(keys)])

    def forget(self, tags: Collection[str]) -> int:
        """Delete every record naming one of these person tags; returns how many. A scan (in parallel
        segments, strongly consistent): a forget is rare, and the table holds one window of events.
        Raises botocore errors, or RuntimeError for deletes DynamoDB left undone: run the forget again."""
        if not tags:
            return 0
        values = {f":t{number}": {"S": tag} for number, tag in enumerate(sorted(tags))}
        scan = {
            "TableName": self._table,
            "ConsistentRead": True,
            "ProjectionExpression": "id",
            "FilterExpression": "begins_with(id, :prefix) AND ("
            + " OR ".join(f"contains(people, {name})" for name in values)
            + ")",
            "ExpressionAttributeValues": {":prefix": {"S": _PREFIX}, **values},
            "TotalSegments": SCAN_SEGMENTS,
        }
        segments = fan_out(self._executor, partial(self._scan_ids, scan), range(SCAN_SEGMENTS))
        ids = [record_id for segment in segments for record_id in segment]
        undone = self._batch_write([{"DeleteRequest": {"Key": {"id": {"S": record_id}}}} for record_id in ids])
        if undone:
            raise RuntimeError(f"{len(undone)} idempotency record(s) could not be deleted; run the forget again")
        return len(ids)

    def _scan_ids(self, scan: dict[str, Any], segment: int) -> list[str]:
        pages = self._dynamodb.get_paginator("scan").paginate(**scan, Segment=segment)
        return [item["id"]["S"] for page in pages for item in page.get("Items", [])]

    # --- DynamoDB -------------------------------------------------------------------------------
    def _insert_chunk(
        self, keys: Sequence[str], tags_of: Mapping[str, Sequence[str]], request: str, now: float
    ) -> dict[str, Found | BotoCoreError | ClientError]:
        """Up to 25 claims in one BatchExecuteStatement of PartiQL INSERTs: each a standard write (1 unit)
        that fails alone, with DuplicateItem, if a record exists. Each that failed, for whatever reason, is
        tried again as a conditional PutItem, which decides an existing record (expired, or live)."""
        statements = []
        for key in keys:
            item = self._claim_item(key, tags_of[key], request, now)["Put"]["Item"]
            names = [name for name in _CLAIM_ATTRIBUTES if name in item]
            fields = ", ".join(f"'{name}': ?" for name in names)
            statements.append({
                "Statement": f'INSERT INTO "{self._table}" VALUE {{{fields}}}',
                "Parameters": [item[name] for name in names],
            })  # fmt: skip
        try:
            responses = self._dynamodb.batch_execute_statement(Statements=statements)["Responses"]
        except (BotoCoreError, ClientError) as exc:
            logger.warning("idempotency claim batch failed; claiming one by one", extra={"error": str(exc)[:300]})
            responses = [{"Error": {}}] * len(keys)
        return {
            key: self._put_claim(key, tags_of, request, now) if "Error" in response else Claim.NEW
            for key, response in zip(keys, responses, strict=True)
        }

    def _put_claim(
        self, key: str, tags_of: Mapping[str, Sequence[str]], request: str, now: float
    ) -> Found | BotoCoreError | ClientError:
        """The claim written, or the live record that kept it from being written (ALL_OLD's copy)."""
        try:
            self._dynamodb.put_item(**self._claim_item(key, tags_of[key], request, now)["Put"])
            return Claim.NEW
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                return exc
            record = cast(dict[str, Any] | None, exc.response.get("Item"))
        except BotoCoreError as exc:
            return exc
        try:
            return record if record is not None else self._record(_PREFIX + key)
        except (BotoCoreError, ClientError) as exc:
            return exc

    def _record(self, record_id: str) -> dict[str, Any]:
        """A record read back (strongly consistent): a request's completion, or a live claim for an SDK too
        old to return it with a failed PutItem condition (a botocore before mid-2023 drops the parameter
        unsent). Only resends pay these reads."""
        response = self._dynamodb.get_item(TableName=self._table, Key={"id": {"S": record_id}}, ConsistentRead=True)
        return cast(dict[str, Any], response.get("Item", {}))

    def _decide(self, found: dict[str, Found], tags_of: Mapping[str, Sequence[str]], request: str) -> dict[str, Claim]:
        """Each live record another request wrote, decided: done if that request completed it, busy while its
        claim is young, ours (taken over) once a claim of a request that never completed is old."""
        records = {key: record for key, record in found.items() if isinstance(record, dict)}
        owners = sorted({str(record["request"]["S"]) for record in records.values() if "request" in record})
        completions = dict(zip(owners, fan_out(self._executor, self._completion, owners), strict=True))
        now = self._clock()
        decided = {key: claim for key, claim in found.items() if isinstance(claim, Claim)}
        stale = []
        for key, record in records.items():
            owner = record.get("request", {}).get("S")
            completion = completions.get(owner) if owner else None
            if record.get("status", {}).get("S") == "COMPLETED":
                decided[key] = Claim.DONE  # an event recorded done on its own (forgotten, or before completions)
            elif not isinstance(completion, dict):
                decided[key] = Claim.BUSY  # a young claim without a request, or an unreadable completion
            elif completion and key not in completion.get("unreleased", {}).get("SS", []):
                decided[key] = Claim.DONE
            elif int(record["in_progress_expiration"]["N"]) < now * 1000:
                stale.append((key, str(owner)))  # its request never completed it and its claim is old: crashed
            else:
                decided[key] = Claim.BUSY  # being delivered
        take_over = partial(self._take_over, tags_of=tags_of, request=request, now=now)
        for (key, _), claim in zip(stale, fan_out(self._executor, take_over, stale), strict=True):
            decided[key] = claim
        return decided

    def _completion(self, request: str) -> dict[str, Any] | Exception:
        """A request's completion record ({} if it has none), or the error that kept it unread."""
        try:
            return self._record(_REQUEST_PREFIX + request)
        except (BotoCoreError, ClientError) as exc:
            return exc

    def _take_over(
        self, stale: tuple[str, str], tags_of: Mapping[str, Sequence[str]], request: str, now: float
    ) -> Claim:
        """The crashed request's claim made ours, if it is still that one (a concurrent resend may win)."""
        key, owner = stale
        put = self._claim_item(key, tags_of[key], request, now)["Put"]
        put["ConditionExpression"] = "#request = :owner AND in_progress_expiration < :now_ms"
        put["ExpressionAttributeNames"] = {"#request": "request"}
        put["ExpressionAttributeValues"] = {":owner": {"S": owner}, ":now_ms": {"N": str(int(now * 1000))}}
        try:
            self._dynamodb.put_item(**put)
        except (BotoCoreError, ClientError):
            return Claim.BUSY
        return Claim.NEW

    def _claim_item(self, key: str, tags: Sequence[str], request: str, now: float) -> dict[str, Any]:
        """Written unless a record is live: TTL deletes expired ones up to days late, so expiry is checked.
        An old claim without a request (written before completions existed) is free once old, as it was."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "id": {"S": _PREFIX + key},
                    "status": {"S": "INPROGRESS"},
                    "request": {"S": request},
                    "expiration": {"N": str(int(now + self._window))},
                    "in_progress_expiration": {"N": str(int((now + self._claim_ttl) * 1000))},
                }
                | _tags(tags),
                "ConditionExpression": (
                    "attribute_not_exists(id) OR expiration < :now OR (#status = :in_progress"
                    " AND in_progress_expiration < :now_ms AND attribute_not_exists(#request))"
                ),
                "ExpressionAttributeNames": {"#status": "status", "#request": "request"},
                "ExpressionAttributeValues": {
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":in_progress": {"S": "INPROGRESS"},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _batch_write(self, requests: list[dict[str, Any]]) -> list[str]:
        failures = fan_out(self._executor, self._write_chunk, chunked(requests, BATCH_WRITE_ITEMS))
        return [key for failed in failures for key in failed]

    def _write_chunk(self, requests: Sequence[dict[str, Any]]) -> list[str]:
        pending = list(requests)
        for round_number in range(_ROUNDS):
            try:
                response = self._dynamodb.batch_write_item(RequestItems={self._table: pending})
            except ClientError as exc:
                logger.warning("idempotency batch write failed", extra={"items": len(pending), "error": str(exc)[:300]})
                break
            pending = response.get("UnprocessedItems", {}).get(self._table, [])
            if not pending:
                return []
            time.sleep(0.05 * 2**round_number)  # DynamoDB asks for backoff on unprocessed items
        return [_key_of(request) for request in pending]


def _tags(tags: Sequence[str]) -> dict[str, Any]:
    """The `people` attribute (a string set: DynamoDB has no empty one, so none without tags)."""
    unique = list(dict.fromkeys(tags))[:MAX_TAGS]
    return {"people": {"SS": unique}} if unique else {}


def _key_of(request: dict[str, Any]) -> str:
    body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key", {})
    return str(body["id"]["S"]).removeprefix(_PREFIX)
