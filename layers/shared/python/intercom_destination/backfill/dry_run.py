"""`make backfill DRY_RUN=1`: what a backfill would do, with nothing claimed, sent or queued: events per
type and per action, the invalid lines by file and line, a sample of the requests each action would send
(the preview's machinery, ingest.preview), and how long the run would take at its share of the rate
limit, counting the requests the actions plan (lookups Intercom may also need are not counted)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from intercom_destination.backfill.formats import FormatError, lines
from intercom_destination.backfill.runner import Part
from intercom_destination.config.settings import Settings
from intercom_destination.ingest.preview import preview_of
from intercom_destination.intake.inbound import Caller, Item
from intercom_destination.mapping.actions import ActionSet

#: Invalid lines listed (all are counted), and sample requests kept per action.
LISTED = 100
SAMPLES = 2
_CHUNK = 500


class DryRun:
    def __init__(self, actions: ActionSet, caller: Caller, settings: Settings, share: float) -> None:
        self._actions = actions
        self._caller = caller
        self._settings = settings
        self._share = share
        self.lines = 0
        self.events = 0
        self.by_type: Counter[str] = Counter()
        self.by_action: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.requests = 0
        self.invalid: list[dict[str, Any]] = []
        self.invalid_count = 0
        self.invalid_by_reason: Counter[str] = Counter()
        self.samples: dict[str, list[Any]] = defaultdict(list)

    def read(self, parts: Sequence[Part]) -> dict[str, Any]:
        for part in parts:
            with closing(part.open()) as raw:
                try:
                    pending: list[tuple[int, Any]] = []
                    for line in lines(raw, part.name):
                        self.lines += 1
                        if line.error:
                            self._invalid(part.name, line.number, line.error, line.reason or "invalid_line")
                        pending += [(line.number, event) for event in line.events]
                        if len(pending) >= _CHUNK:
                            self._preview(part.name, pending)
                            pending = []
                    self._preview(part.name, pending)
                except FormatError as refused:
                    self._invalid(part.name, 1, str(refused), "not_an_archive")
        return self.summary()

    def summary(self) -> dict[str, Any]:
        per_second = self._share * self._settings.intercom_rate_limit_per_minute / 60
        return {
            "lines": self.lines,
            "events": self.events,
            "by_type": dict(sorted(self.by_type.items())),
            "by_action": dict(sorted(self.by_action.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "invalid_count": self.invalid_count,
            "invalid_by_reason": dict(sorted(self.invalid_by_reason.items())),
            "invalid": self.invalid,
            "requests": self.requests,
            "estimated_seconds": round(self.requests / per_second, 1) if per_second else None,
            "share": self._share,
            "rate_limit_per_minute": self._settings.intercom_rate_limit_per_minute,
            "samples": dict(self.samples),
        }

    def _preview(self, part: str, pending: list[tuple[int, Any]]) -> None:
        if not pending:
            return
        items = [Item(index, event) for index, (_, event) in enumerate(pending)]
        shown = preview_of(items, self._caller, datetime.now(UTC), self._actions, self._settings)
        self.events += len(items)
        for error in shown["errors"]:
            self._invalid(part, pending[error["index"]][0], f"{error['field']}: {error['message']}", error["code"])
        for event in shown["events"]:
            self.by_type[event["type"]] += 1
            if event.get("skipped"):
                self.skipped[event["skipped"]] += 1
            for action in event.get("actions", []):
                self.by_action[action["name"]] += 1
                requests = action.get("requests", [])
                self.requests += len(requests)
                if requests and len(self.samples[action["name"]]) < SAMPLES:
                    self.samples[action["name"]].append({"line": pending[event["index"]][0], "requests": requests})

    def _invalid(self, part: str, line: int, error: str, reason: str) -> None:
        self.invalid_count += 1
        self.invalid_by_reason[reason] += 1
        if len(self.invalid) < LISTED:
            self.invalid.append({"file": part, "line": line, "error": error[:300]})
