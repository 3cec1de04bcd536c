"""Where a backfill is, kept in DynamoDB (the idempotency table) so that a stopped or crashed run goes on
from its last checkpoint, wherever it runs next (another Lambda worker, `make backfill` again).

A run reads parts: a whole file, or a byte range of a large uncompressed S3 object. Each part has one
record: the lines done, the counts of how its events ended, the invalid lines (the first
MAX_INVALID_KEPT, with their number), and whether it is finished. A checkpoint is written after each
chunk's events are all delivered, queued or refused, only over an older one (`lines` grows): a second
reader of the same part (an SQS message seen twice) loses that race and stops instead of counting twice.
A part is finished once, by one reader (a conditional write), which then counts it on the run's record;
the reader that counts the last part knows the run is done. The run's parts are listed on manifest
pages of MANIFEST_PAGE names (an S3 archive may have tens of thousands: one item holds 400 KB at most).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from intercom_destination.fanout import chunked

_PREFIX = "intercom-destination#backfill#"
#: Invalid lines listed per part (all are counted).
MAX_INVALID_KEPT = 100
#: Part names per manifest item (an S3 key is at most 1,024 bytes: a page stays under DynamoDB's 400 KB).
MANIFEST_PAGE = 300
_BATCH_GET_KEYS = 100
_CONFLICT = "ConditionalCheckFailedException"


class PartTaken(RuntimeError):
    """Another reader checkpointed this part further (or finished it): it carries on, this one stops."""


@dataclass
class Progress:
    """One part's progress: what its record holds."""

    part: str
    lines: int = 0  # lines done, from the part's start
    offset: int = 0  # bytes done, from the part's start (uncompressed)
    counts: Counter[str] = field(default_factory=Counter)  # `<type>.<ending>`, `invalid_lines`, `invalid.<reason>`
    invalid: list[dict[str, Any]] = field(default_factory=list)  # {"line": n, "error": why}
    done: bool = False

    def add_invalid(self, line: int, error: str, reason: str) -> None:
        """An invalid line (or event), counted in all and by `reason` (a short code), and listed."""
        self.counts["invalid_lines"] += 1
        self.counts[f"invalid.{reason}"] += 1
        if len(self.invalid) < MAX_INVALID_KEPT:
            self.invalid.append({"line": line, "error": error[:300]})


class Checkpoints:
    def __init__(self, client: Any, table: str, run: str, retention_seconds: int) -> None:
        self._dynamodb = client
        self._table = table
        self.run = run
        self._retention = retention_seconds

    def start(self, parts: list[str]) -> None:
        """List the run's parts (a second start of the same run keeps its first start's time and count of
        parts finished)."""
        pages = list(chunked(parts, MANIFEST_PAGE))
        for number, page in enumerate(pages):
            item = {"id": {"S": self._manifest(number)}, "parts": {"S": json.dumps(page)}}
            self._dynamodb.put_item(TableName=self._table, Item=item | self._expiration())
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": self._key()}},
            UpdateExpression="SET parts = :n, pages = :p, expiration = :e, started_at = if_not_exists(started_at, :t)",
            ExpressionAttributeValues={
                ":n": {"N": str(len(parts))},
                ":p": {"N": str(len(pages))},
                ":t": {"N": str(int(time.time()))},
                ":e": self._expiration()["expiration"],
            },
        )

    def load(self, part: str) -> Progress:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"id": {"S": self._key(part)}}, ConsistentRead=True
        ).get("Item")
        return _progress(part, item) if item else Progress(part)

    def save(self, progress: Progress, before: int) -> None:
        """Record `progress`, only over a record of at most `before` lines done (what this reader loaded or
        last saved) and not finished; raises PartTaken when another reader got further."""
        state = {"offset": progress.offset, "counts": dict(progress.counts), "invalid": progress.invalid}
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": self._key(progress.part)},
                    "part": {"S": progress.part},
                    "lines": {"N": str(progress.lines)},
                    "done": {"BOOL": progress.done},
                    "state": {"S": json.dumps(state)},
                }
                | self._expiration(),
                ConditionExpression="attribute_not_exists(#lines) OR (#lines <= :before AND done = :false)",
                ExpressionAttributeNames={"#lines": "lines"},
                ExpressionAttributeValues={":before": {"N": str(before)}, ":false": {"BOOL": False}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONFLICT:
                raise PartTaken(progress.part) from None
            raise

    def finish(self, progress: Progress) -> bool:
        """Mark the part finished (once: a second reader gets PartTaken) and count it on the run's record;
        True when it was the run's last part."""
        progress.done = True
        self.save(progress, progress.lines)
        counted = self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": self._key()}},
            UpdateExpression="ADD parts_done :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return "parts" in counted and int(counted["parts_done"]["N"]) >= int(counted["parts"]["N"])

    def status(self) -> dict[str, Any]:
        """The run's totals over its parts: parts finished, lines read, events by ending, invalid lines."""
        run = self._get(self._key())
        pages = int(run["pages"]["N"]) if run else 0
        names = [name for n in range(pages) for name in json.loads(self._get(self._manifest(n))["parts"]["S"])]
        loaded = self._load_many(names)
        counts: Counter[str] = Counter()
        for progress in loaded:
            counts.update(progress.counts)
        return {
            "run": self.run,
            "parts": len(names),
            "parts_done": sum(progress.done for progress in loaded),
            "lines": sum(progress.lines for progress in loaded),
            "counts": dict(sorted(counts.items())),
            "invalid": [{"part": progress.part, **invalid} for progress in loaded for invalid in progress.invalid][
                :MAX_INVALID_KEPT
            ],
        }

    def _load_many(self, parts: list[str]) -> list[Progress]:
        """The records of these parts, by BatchGetItem (a part never read has none: nothing done)."""
        found: dict[str, dict[str, Any]] = {}
        for page in chunked(parts, _BATCH_GET_KEYS):
            keys: list[dict[str, Any]] = [{"id": {"S": self._key(part)}} for part in page]
            while keys:
                answer = self._dynamodb.batch_get_item(
                    RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in answer["Responses"].get(self._table, []):
                    found[item["part"]["S"]] = item
                keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return [_progress(part, found[part]) if part in found else Progress(part) for part in parts]

    def _get(self, key: str) -> Any:
        return self._dynamodb.get_item(TableName=self._table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")

    def _expiration(self) -> dict[str, Any]:
        return {"expiration": {"N": str(int(time.time()) + self._retention)}}

    def _manifest(self, page: int) -> str:
        return f"{_PREFIX}{self.run}#manifest#{page}"

    def _key(self, part: str | None = None) -> str:
        return f"{_PREFIX}{self.run}" + (f"#part#{part}" if part is not None else "")


def _progress(part: str, item: dict[str, Any]) -> Progress:
    state = json.loads(item["state"]["S"])
    return Progress(
        part, int(item["lines"]["N"]), state["offset"], Counter(state["counts"]), state["invalid"], item["done"]["BOOL"]
    )
