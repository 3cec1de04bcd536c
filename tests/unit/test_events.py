"""Validation of inbound calls: what is required, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_destination.intake.events import Group, Identify, InvalidCallError, Track, parse_call


def errors(event: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidCallError) as raised:
        parse_call(event)
    return {error.field: error.message for error in raised.value.errors}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "identify"}, "(event)"),
        ({"type": "identify", "userId": "", "anonymousId": None}, "(event)"),
        ({"type": "track", "userId": "u"}, "event"),
        ({"type": "track", "userId": "u", "event": ""}, "event"),
        ({"type": "track", "userId": "u", "event": "x" * 256}, "event"),
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "identify", "userId": {"id": 1}}, "userId"),
        ({"type": "identify", "userId": "u", "traits": ["a"]}, "traits"),
        ({"type": "identify", "userId": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"type": "identify", "userId": "u", "messageId": "m" * 101}, "messageId"),
        ({"type": "purchase", "userId": "u"}, "type"),
        ({"userId": "u"}, "type"),
    ],
)
def test_invalid_events_name_the_field(event: dict[str, Any], field: str) -> None:
    assert field in errors(event)


def test_identify_requires_an_id_with_a_clear_message() -> None:
    assert errors({"type": "identify"}) == {"(event)": "userId or anonymousId is required"}


def test_lenient_inputs_real_sdks_send() -> None:
    call = parse_call({
        "type": "identify",
        "userId": 42,
        "anonymousId": None,
        "traits": None,
        "context": None,
        "timestamp": "2026-11-20T10:00:00.123456+00:00",
        "unknownTopLevelKey": True,
    })  # fmt: skip
    assert isinstance(call, Identify)
    assert call.userId == "42"
    assert call.traits == {}


def test_group_needs_only_a_group_id() -> None:
    call = parse_call({"type": "group", "groupId": 7})
    assert isinstance(call, Group)
    assert call.groupId == "7"


def test_track_event_name_is_stripped() -> None:
    call = parse_call({"type": "track", "anonymousId": "a", "event": "  Viewed  "})
    assert isinstance(call, Track)
    assert call.event == "Viewed"
