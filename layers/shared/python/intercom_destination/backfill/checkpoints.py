"""Where a backfill is, kept in DynamoDB (the idempotency table) so that a stopped or crashed run goes on
from its last checkpoint, wherever it runs next (another Lambda worker, `make backfill` again).

A run reads parts: a whole file, or a byte range of a large uncompressed S3 object. Each part has one
record: the lines done, the counts of how its events ended, the invalid lines (the first
MAX_INVALID_KEPT, with their number), and whether it is finished. A checkpoint is written after each
chunk's events are all delivered, queued or refused, only over an older one (`lines` grows): a second
reader of the same part (an SQS message seen twice) loses that race and stops instead of counting twice.
The run's own record holds its parts' names (to sum them for a status) and when it started.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

_PREFIX = "intercom-destination#backfill#"
#: Invalid lines listed per part (all are counted).
MAX_INVALID_KEPT = 100
_CONFLICT = "ConditionalCheckFailedException"


class PartTaken(RuntimeError):
    """Another reader checkpointed this part further: it carries on, this one stops."""


@dataclass
class Progress:
    """One part's progress: what its record holds."""

    part: str
    lines: int = 0  # lines done, from the part's start
    offset: int = 0  # bytes done, from the part's start (uncompressed)
    counts: Counter[str] = field(default_factory=Counter)  # `<type>.<ending>`, `invalid.<reason>`
    invalid: list[dict[str, Any]] = field(default_factory=list)  # {"line": n, "error": why}
    done: bool = False

    def add_invalid(self, line: int, error: str) -> None:
        self.counts["invalid_lines"] += 1
        if len(self.invalid) < MAX_INVALID_KEPT:
            self.invalid.append({"line": line, "error": error[:300]})


class Checkpoints:
    def __init__(self, client: Any, table: str, run: str, retention_seconds: int) -> None:
        self._dynamodb = client
        self._table = table
        self.run = run
        self._retention = retention_seconds

    def start(self, parts: list[str]) -> None:
        """Name the run's parts (a second start of the same run keeps the first start's time)."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": self._key()}},
            UpdateExpression="SET parts = :p, expiration = :e, started_at = if_not_exists(started_at, :t)",
            ExpressionAttributeValues={
                ":p": {"S": json.dumps(parts)},
                ":e": {"N": str(int(time.time()) + self._retention)},
                ":t": {"N": str(int(time.time()))},
            },
        )

    def parts(self) -> list[str]:
        item = self._dynamodb.get_item(TableName=self._table, Key={"id": {"S": self._key()}}, ConsistentRead=True)
        return list(json.loads(item["Item"]["parts"]["S"])) if "Item" in item else []

    def load(self, part: str) -> Progress:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"id": {"S": self._key(part)}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return Progress(part)
        state = json.loads(item["state"]["S"])
        return Progress(
            part,
            int(item["lines"]["N"]),
            state["offset"],
            Counter(state["counts"]),
            state["invalid"],
            item["done"]["BOOL"],
        )

    def save(self, progress: Progress, before: int) -> None:
        """Record `progress`, only over a record of at most `before` lines done (what this reader loaded or
        last saved); raises PartTaken when another reader got further."""
        state = {"offset": progress.offset, "counts": dict(progress.counts), "invalid": progress.invalid}
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": self._key(progress.part)},
                    "lines": {"N": str(progress.lines)},
                    "done": {"BOOL": progress.done},
                    "state": {"S": json.dumps(state)},
                    "expiration": {"N": str(int(time.time()) + self._retention)},
                },
                ConditionExpression="attribute_not_exists(#lines) OR #lines <= :before",
                ExpressionAttributeNames={"#lines": "lines"},
                ExpressionAttributeValues={":before": {"N": str(before)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONFLICT:
                raise PartTaken(progress.part) from None
            raise

    def status(self) -> dict[str, Any]:
        """The run's totals over its parts: parts done, lines read, events by ending, invalid lines."""
        parts = self.parts()
        loaded = [self.load(part) for part in parts]
        counts: Counter[str] = Counter()
        for progress in loaded:
            counts.update(progress.counts)
        return {
            "run": self.run,
            "parts": len(parts),
            "parts_done": sum(progress.done for progress in loaded),
            "lines": sum(progress.lines for progress in loaded),
            "counts": dict(sorted(counts.items())),
            "invalid": [{"part": progress.part, **invalid} for progress in loaded for invalid in progress.invalid][
                :MAX_INVALID_KEPT
            ],
        }

    def _key(self, part: str | None = None) -> str:
        return f"{_PREFIX}{self.run}" + (f"#part#{part}" if part is not None else "")
