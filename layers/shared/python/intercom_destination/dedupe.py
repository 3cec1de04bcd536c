"""At most once per messageId (per write key) within a window, on powertools' idempotency persistence.

An event is claimed (an INPROGRESS record, conditional write) before its first Intercom call and
completed once it is delivered or durably queued; a claim is released if the queue refused it, so the
SDK's resend can try again. The claim expires after the request's time budget, so a crashed invocation
never blocks an event for the whole window.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import STATUS_CONSTANTS, BasePersistenceLayer

#: Fields that differ between an SDK's sends of the same event.
_VOLATILE = ("sentAt", "writeKey")


class Claim(StrEnum):
    NEW = "new"  # ours to deliver
    DONE = "done"  # delivered or queued before: skip
    BUSY = "busy"  # another invocation is delivering it right now


def idempotency_key(write_key: str, event: dict[str, Any]) -> str:
    """messageId scoped to the write key; an event without one is keyed by its content."""
    scope = hashlib.sha256(write_key.encode()).hexdigest()[:12]
    message_id = event.get("messageId")
    if message_id not in (None, ""):
        return f"{scope}:{message_id}"
    content = json.dumps({k: v for k, v in event.items() if k not in _VOLATILE}, sort_keys=True, default=str)
    return f"{scope}:content-{hashlib.sha256(content.encode()).hexdigest()}"


class Dedupe:
    def __init__(self, persistence: BasePersistenceLayer, window_seconds: int, claim_ttl_ms: int) -> None:
        config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=window_seconds)
        persistence.configure(config, key_prefix="intercom-destination#event")
        self._persistence = persistence
        self._claim_ttl_ms = claim_ttl_ms

    def claim(self, key: str) -> Claim:
        try:
            self._persistence.save_inprogress({"key": key}, remaining_time_in_millis=self._claim_ttl_ms)
        except IdempotencyItemAlreadyExistsError as exists:
            record = exists.old_data_record
            if record is None:
                try:
                    record = self._persistence.get_record({"key": key})
                except IdempotencyItemNotFoundError:  # expired or released between the two calls
                    record = None
            if record is None:
                return self.claim(key)
            return Claim.DONE if record.status == STATUS_CONSTANTS["COMPLETED"] else Claim.BUSY
        return Claim.NEW

    def complete(self, key: str, outcome: str) -> None:
        self._persistence.save_success({"key": key}, result={"outcome": outcome})

    def release(self, key: str, reason: Exception) -> None:
        self._persistence.delete_record({"key": key}, reason)
