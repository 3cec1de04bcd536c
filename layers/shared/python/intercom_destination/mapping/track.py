"""Track Event (track by default) → Submit Data Event: name, time, contact, metadata within Intercom's limits."""

from __future__ import annotations

import re
from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Track
from intercom_destination.intake.timestamps import unix_seconds
from intercom_destination.mapping.fields import ActionKind, Field, identifier, properties_of
from intercom_destination.mapping.plans import ContactRef, EventBody, MetadataValue, Skip, TrackPlan
from intercom_destination.mapping.values import clean_key, cut, flatten, is_empty, price, text, unix

#: Intercom keeps only the first 10 metadata keys of an event, in the order sent.
MAX_METADATA_KEYS = 10
#: Intercom turns `.` and `$` in event names into `-`; we do it first so what we log is what Intercom stores.
_NAME_CHARS = re.compile(r"[.$]")
#: Properties with fields of their own (revenue, currency, email), never repeated as metadata.
_CONSUMED = frozenset({"revenue", "currency", "email"})


def _event_name(value: Any) -> str | None:
    return event_name(name) if (name := text(value)) else None


def _property(name: str, description: str) -> Field:
    return Field(lambda call, _: properties_of(call).get(name), _keep, description=description)


def _keep(value: Any) -> Any:
    return value


FIELDS: dict[str, Field] = {
    "event_name": Field(
        lambda call, _: event_name(call.event) if isinstance(call, Track) else None,
        _event_name,
        True,
        description="`event`; `.` and `$` become `-`, cut at 255",
    ),
    "created_at": Field(
        lambda call, received_at: unix_seconds(call.occurred_at(received_at)),
        unix,
        True,
        True,
        description="the event time (clock-skew corrected); unix seconds, never in the future",
    ),
    "user_id": Field(lambda call, _: call.userId, identifier, description="`userId`: the contact, with no lookup"),
    "email": Field(
        lambda call, _: text(properties_of(call).get("email")) or text(call.context_traits.get("email")),
        text,
        description="`properties.email`, else `context.traits.email`: the contact, without a userId",
    ),
    "metadata": Field(
        lambda call, _: properties_of(call),
        lambda value: value if isinstance(value, dict) else None,
        description="`properties`, flattened, at most 10 keys (docs/mapping.md); mapped: an object",
    ),
    "revenue": _property(
        "revenue", "`properties.revenue`: with `currency`, the price in minor units; or money `{amount, currency}`"
    ),
    "currency": _property("currency", "`properties.currency` (default `USD`)"),
}


def build(values: dict[str, Any], lead_handling: LeadHandling) -> TrackPlan | Skip:
    """By userId when there is one (no lookup needed), else by email."""
    user_id = values["user_id"]
    contact = ContactRef(external_id=user_id, email=None if user_id else values["email"])
    if not contact:
        return Skip("track without userId or email: Intercom cannot attribute the event")
    if values["event_name"] is None:
        return Skip("Track Event without an event_name")
    event: EventBody = {"event_name": values["event_name"], "created_at": values["created_at"]}
    priced = {**(values["metadata"] or {}), "revenue": values["revenue"], "currency": values["currency"]}
    if metadata := event_metadata(priced):
        event["metadata"] = metadata
    return TrackPlan(contact=contact, event=event)


TRACK_EVENT = ActionKind(FIELDS, build)


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
