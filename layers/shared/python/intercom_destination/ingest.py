"""One inbound request, start to answer: decode, authenticate, validate each call, deliver, report.

Knows HTTP only as a status, a JSON body and headers (the handler turns that into a Response).
Calls of one user are delivered in request order (an identify before the group that needs its
contact); different users are delivered concurrently. Everything stops starting new Intercom calls at
the time budget, so the SDKs (10 s timeout) get an answer before they give up and resend.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from .delivery import Deliverer
from .events import FieldError, InvalidCallError, parse_call
from .inbound import RawRequest, authenticate, decode_body, parse_json_object, presented_keys, split_items
from .intercom import IntercomError, RateLimitedError, RetryableError
from .mapping import map_call
from .mapping.plans import Plan, Skip
from .settings import Settings

logger = Logger(child=True)
#: SDKs honour Retry-After up to 300 s; Intercom's windows are 10 s, so a minute is already generous.
MAX_RETRY_AFTER = 60


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # `<type>.<outcome>` → events, for metrics


@dataclass(frozen=True)
class ItemError:
    """One event the caller should know about, by position (batch index) and messageId."""

    index: int
    message_id: str | None
    field: str
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Report:
    """What happened to each event of a request; `counts` keys are `<type>.<outcome>` for metrics."""

    counts: Counter[str] = field(default_factory=Counter)
    rejected: list[ItemError] = field(default_factory=list)  # final: the caller must fix the event
    failed: list[ItemError] = field(default_factory=list)  # not delivered yet: the caller should resend
    retry_after: int = 0

    def answer(self) -> Answer:
        if self.failed:
            # Until the dead-letter queue lands, a 503 makes every SDK resend the whole request.
            errors = sorted(self.failed + self.rejected, key=lambda error: error.index)
            return Answer(
                503,
                _error_body(
                    "delivery_failed",
                    f"{len(self.failed)} event(s) could not be delivered to Intercom yet; retry the request",
                    errors,
                ),
                {"Retry-After": str(max(self.retry_after, 1))},
                dict(self.counts),
            )
        if self.rejected:
            message = f"{len(self.rejected)} event(s) rejected; the other events were accepted"
            errors = sorted(self.rejected, key=_by_index)
            return Answer(400, _error_body("validation_failed", message, errors), counts=dict(self.counts))
        return Answer(200, {"success": True}, counts=dict(self.counts))


def _by_index(error: ItemError) -> int:
    return error.index


def _error_body(code: str, message: str, errors: list[ItemError]) -> dict[str, Any]:
    return {"success": False, "code": code, "message": message, "errors": [e.as_json() for e in errors]}


@dataclass(frozen=True)
class _Work:
    index: int
    message_id: str | None
    call_type: str
    plan: Plan


def integrations_allow(integrations: dict[str, Any]) -> bool:
    """Segment's rule: `Intercom: false` skips; `All: false` skips unless `Intercom` is truthy.

    Keys are compared case-insensitively (RudderStack SDKs send `INTERCOM`)."""
    flags = {str(key).lower(): value for key, value in integrations.items()}
    intercom = flags.get("intercom")
    if intercom is not None:
        return intercom is not False
    return flags.get("all") is not False


class Ingest:
    def __init__(
        self,
        settings: Settings,
        accepted_keys: Callable[[], tuple[str, ...]],
        deliverer: Deliverer,
        executor: Executor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._accepted_keys = accepted_keys
        self._deliverer = deliverer
        self._executor = executor
        self._clock = clock

    def handle(self, path_kind: str, request: RawRequest, received_at: datetime) -> Answer:
        """Raises inbound.RequestError for request-level problems (nothing delivered)."""
        deadline = self._clock() + self._settings.delivery_budget_seconds
        settings = self._settings
        body = parse_json_object(decode_body(request, settings.max_batch_bytes))
        authenticate(presented_keys(request.headers, body), self._accepted_keys())
        items = split_items(path_kind, body, settings.max_event_bytes, settings.max_batch_events)

        report = Report()
        prepared = [
            (work, item.data)
            for item in items
            if (work := self._prepare(item.index, item.data, item.size, received_at, report)) is not None
        ]
        queues = person_queues(prepared)
        futures = [self._executor.submit(self._deliver_in_order, queue, deadline) for queue in queues]
        for future in futures:
            for work, error in future.result():
                self._record(report, work, error)
        logger.info("request handled", extra={"events": len(items), "outcomes": dict(report.counts)})
        return report.answer()

    def _prepare(self, index: int, data: Any, size: int, received_at: datetime, report: Report) -> _Work | None:
        """Validate and map one event; problems are recorded against its index and it is left out."""
        message_id = data.get("messageId") if isinstance(data, dict) else None
        message_id = str(message_id) if message_id is not None else None
        call_type = str(data.get("type")) if isinstance(data, dict) else "unknown"
        if not isinstance(data, dict):
            errors = [FieldError(field="(event)", message="must be a JSON object")]
        elif size > self._settings.max_event_bytes:
            errors = [FieldError(field="(event)", message=f"over the {self._settings.max_event_bytes}-byte limit")]
        else:
            try:
                call = parse_call(data)
            except InvalidCallError as exc:
                errors = exc.errors
            else:
                plan: Plan = (
                    map_call(call, received_at, self._settings.lead_handling)
                    if integrations_allow(call.integrations)
                    else Skip("integrations object turns Intercom off")
                )
                return _Work(index, message_id, call.type, plan)
        report.counts[f"{call_type if call_type in _TYPES else 'unknown'}.rejected"] += 1
        for error in errors:
            report.rejected.append(ItemError(index, message_id, error.field, "invalid_event", error.message))
        logger.info("event rejected", extra={"message_id": message_id, "index": index, "errors": len(errors)})
        return None

    def _deliver_in_order(self, queue: list[_Work], deadline: float) -> list[tuple[_Work, IntercomError | None]]:
        results: list[tuple[_Work, IntercomError | None]] = []
        for position, work in enumerate(queue):
            if self._clock() >= deadline:
                late = RetryableError(None, "deferred", "not delivered within the time budget")
                results.extend((rest, late) for rest in queue[position:])
                break
            try:
                self._deliverer.deliver(work.plan)
            except IntercomError as exc:
                results.append((work, exc))
            else:
                results.append((work, None))
        return results

    def _record(self, report: Report, work: _Work, error: IntercomError | None) -> None:
        log = {"message_id": work.message_id, "index": work.index, "type": work.call_type}
        if error is None:
            outcome = "skipped" if isinstance(work.plan, Skip) else "delivered"
            if isinstance(work.plan, Skip):
                logger.debug("event skipped", extra={**log, "reason": work.plan.reason})
            report.counts[f"{work.call_type}.{outcome}"] += 1
            return
        item = ItemError(work.index, work.message_id, "(intercom)", error.code, error.message)
        log |= {"status": error.status, "code": error.code, "error": error.message}
        if error.retryable:
            report.failed.append(item)
            report.counts[f"{work.call_type}.failed"] += 1
            if isinstance(error, RateLimitedError):
                wait = min(math.ceil(error.reset_at - time.time()), MAX_RETRY_AFTER)
                report.retry_after = max(report.retry_after, wait)
            logger.warning("event not delivered yet", extra=log)
        else:
            report.rejected.append(item)
            report.counts[f"{work.call_type}.rejected"] += 1
            logger.warning("Intercom rejected event", extra=log)


_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})


def person_queues(prepared: list[tuple[_Work, dict[str, Any]]]) -> list[list[_Work]]:
    """Events that share a userId, anonymousId or email belong to one person and are delivered in request
    order (a visitor's lead identify, then their signup); different people are delivered concurrently."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    roots = []
    for work, data in prepared:
        keys = _identity_keys(data) or [f"event:{work.index}"]
        first = root(keys[0])
        for key in keys[1:]:
            parent[root(key)] = first
        roots.append(keys[0])
    queues: dict[str, list[_Work]] = {}
    for (work, _), key in zip(prepared, roots, strict=True):
        queues.setdefault(root(key), []).append(work)
    return list(queues.values())


def _identity_keys(data: dict[str, Any]) -> list[str]:
    keys = [f"{field}:{data[field]}" for field in ("userId", "anonymousId") if data.get(field) not in (None, "")]
    sources = [(data.get("context") or {}).get("traits")]
    if data.get("type") != "group":  # a group's traits.email is the company's, not the person's
        sources.append(data.get("traits"))
    for traits in sources:
        if isinstance(traits, dict) and isinstance(traits.get("email"), str):
            keys.append(f"email:{traits['email'].strip().lower()}")
    return keys
