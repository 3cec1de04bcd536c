"""The queue message format, the backoff schedule and idempotency keys (no AWS needed)."""

from __future__ import annotations

import re
from dataclasses import replace

from intercom_destination.config.settings import Settings
from intercom_destination.durability.claims import idempotency_key
from intercom_destination.durability.queue import (
    BATCH_BYTES,
    BATCH_SIZE,
    MAX_VISIBILITY_SECONDS,
    LastError,
    QueuedEvent,
    by_size,
)
from intercom_destination.person import person_group
from intercom_destination.replay.redrive import Redrive


def message() -> QueuedEvent:
    return QueuedEvent(
        event={"type": "group", "userId": "u1", "groupId": "g", "messageId": "m1"},
        action="group",
        step="attach",
        state={"company": "abc123"},
        idempotency_key="k",
        person=person_group("userId:u1"),
        received_at="2026-11-20T10:00:00+00:00",
        first_failed_at="2026-11-20T10:00:01+00:00",
        last_error=LastError(404, "contact_not_found", "no Intercom contact for userId 'u1' yet"),
    )


def test_a_message_survives_the_round_trip_and_carries_no_secret() -> None:
    original = message()
    body = original.to_json()
    assert QueuedEvent.from_json(body) == original
    assert "writeKey" not in body
    assert original.message_id == "m1"


def test_a_message_is_utf8_as_sent_and_holds_only_what_sqs_takes() -> None:
    """SQS takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body; text stays UTF-8 (an
    emoji is 4 bytes, not a 12-byte escape), the rest is escaped, and the event comes back as it was."""
    text = "山田 😀 \u2028 \x7f \x01 \uffff \ud800 end"
    original = replace(message(), event={**message().event, "traits": {"name": text * 1000}})
    body = original.to_json()
    assert QueuedEvent.from_json(body) == original
    assert not re.search("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", body)
    words = replace(original, event={**original.event, "traits": {"name": "山田 😀 " * 1000}})
    assert len(words.to_json().encode()) < len(("山田 😀 " * 1000).encode()) + 1000  # the envelope; escaped: 2.5×


def test_batches_hold_ten_messages_or_one_mebibyte_whichever_comes_first() -> None:
    assert [len(batch) for batch in by_size(list(range(23)), lambda _: 100)] == [10, 10, 3]
    sizes = [600_000, 500_000, 400_000, 300_000, BATCH_BYTES + 1, 10]
    batches = by_size(list(range(len(sizes))), sizes.__getitem__)
    assert batches == [[0], [1, 2], [3], [4], [5]]  # the oversized one alone: SQS refuses only it
    assert all(len(batch) <= BATCH_SIZE for batch in batches)


def test_a_parked_message_says_why() -> None:
    parked = message().parked(last_error=LastError(422, "parameter_invalid", "bad"), attempts=4)
    assert (parked.reason, parked.attempts) == ("parameter_invalid: bad", 4)


def test_the_person_group_hides_ids_and_is_stable() -> None:
    assert person_group("userId:u1") == person_group("userId:u1") != person_group("userId:u2")
    assert "u1" not in person_group("userId:u1")


def test_backoff_doubles_from_the_setting_up_to_twelve_hours() -> None:
    redrive = Redrive(Settings(redrive_backoff_seconds=30), None, None, None, None, None, None, None)  # type: ignore[arg-type]
    assert [redrive.backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert redrive.backoff(30) == MAX_VISIBILITY_SECONDS


def test_idempotency_keys_are_scoped_per_write_key_and_stable_without_a_message_id() -> None:
    event = {"type": "track", "userId": "u", "event": "x", "messageId": "m1"}
    assert idempotency_key("key-a", event) != idempotency_key("key-b", event)
    assert idempotency_key("key-a", event).endswith(":m1")
    anonymous = {"type": "track", "userId": "u", "event": "x", "sentAt": "2026-11-20T10:00:00Z"}
    resent = {**anonymous, "sentAt": "2026-11-20T10:00:05Z", "writeKey": "key-a"}
    assert idempotency_key("key-a", anonymous) == idempotency_key("key-a", resent)
    assert idempotency_key("key-a", anonymous) != idempotency_key("key-a", {**anonymous, "event": "y"})
