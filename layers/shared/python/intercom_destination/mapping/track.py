"""track → Submit Data Event: name, time, contact, and metadata within Intercom's limits."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..events import Track
from ..timestamps import unix_seconds
from .plans import ContactRef, EventBody, MetadataValue, Skip, TrackPlan
from .values import clean_key, cut, flatten, is_empty, price, text, unix

#: Intercom keeps only the first 10 metadata keys of an event, in the order sent.
MAX_METADATA_KEYS = 10
#: Intercom turns `.` and `$` in event names into `-`; we do it first so what we log is what Intercom stores.
_NAME_CHARS = re.compile(r"[.$]")
#: Properties consumed by the mapping instead of being sent as metadata.
_CONSUMED = frozenset({"revenue", "currency", "email"})


def map_track(call: Track, received_at: datetime) -> TrackPlan | Skip:
    email = text(call.properties.get("email")) or text(call.context_traits.get("email"))
    contact = ContactRef(external_id=call.userId, email=None if call.userId else email)
    if not contact:
        return Skip("track without userId or email: Intercom cannot attribute the event")
    event: EventBody = {
        "event_name": event_name(call.event),
        "created_at": unix_seconds(call.occurred_at(received_at)),
    }
    if metadata := event_metadata(call.properties):
        event["metadata"] = metadata
    return TrackPlan(contact=contact, event=event)


def event_name(name: str) -> str:
    """Case is kept (Intercom compares names case-insensitively); `.` and `$` become `-`."""
    return cut(_NAME_CHARS.sub("-", name.strip()))


def event_metadata(properties: dict[str, Any]) -> dict[str, MetadataValue]:
    """Price first (revenue + currency), then rich links and flattened properties in send order, max 10."""
    metadata: dict[str, MetadataValue] = {}
    if (amount := price(properties.get("revenue"), properties.get("currency"))) is not None:
        metadata["price"] = amount
    elif (plain := _scalar(properties.get("revenue"))) is not None:
        metadata["revenue"] = plain  # refunds and odd values stay visible as a plain value; objects are dropped
    for key, value in properties.items():
        if key in _CONSUMED or is_empty(value):
            continue
        if isinstance(value, dict) and _is_object_intercom_keeps(value):
            metadata.setdefault(clean_key(key), value)  # type: ignore[arg-type]
            continue
        for flat_key, flat_value in flatten({key: value}):
            date = unix(flat_value) if flat_key.endswith("_date") else None
            metadata.setdefault(flat_key, flat_value if date is None else date)
    return dict(list(metadata.items())[:MAX_METADATA_KEYS])


def _scalar(value: Any) -> MetadataValue | None:
    if isinstance(value, str):
        return cut(value) if value.strip() else None
    return value if isinstance(value, int | float | bool) else None


def _is_object_intercom_keeps(value: dict[str, Any]) -> bool:
    """Rich links `{url, value}` and monetary amounts `{amount, currency}` are the only nesting allowed."""
    if set(value) == {"url", "value"}:
        return all(isinstance(part, str) for part in value.values())
    if set(value) == {"amount", "currency"}:
        return isinstance(value["amount"], int) and not isinstance(value["amount"], bool)
    return False
