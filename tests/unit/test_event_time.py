"""The event time we trust: device clocks are wrong (ahead, behind, 2099), so a device time is corrected for
its skew whenever `sentAt` tells it, and nothing is ever dated after its receipt (+ FUTURE_TOLERANCE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import parse_call
from intercom_destination.intake.timestamps import FUTURE_TOLERANCE, unix_seconds
from intercom_destination.mapping import map_call
from intercom_destination.mapping.plans import GroupPlan, IdentifyPlan, TrackPlan

RECEIVED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def occurred(**fields: Any) -> datetime:
    return parse_call({"type": "identify", "userId": "u1", **fields}).occurred_at(RECEIVED)


@pytest.mark.parametrize("skew", [timedelta(days=400), timedelta(days=-365), timedelta(hours=3), timedelta(0)])
def test_a_device_clock_off_by_any_amount_is_corrected_when_the_sdk_sends_timestamp_and_sent_at(
    skew: timedelta,
) -> None:
    """What segment-analytics-python and customerio-cdp-analytics send: the event's device time and the device
    time of sending. The event happened 20 s before it was sent, whatever the device's clock said."""
    device_now = RECEIVED + skew
    moment = occurred(timestamp=iso(device_now - timedelta(seconds=20)), sentAt=iso(device_now))
    assert moment == RECEIVED - timedelta(seconds=20)


def test_original_timestamp_is_corrected_the_same_way() -> None:
    ahead = RECEIVED + timedelta(days=400)
    assert occurred(originalTimestamp=iso(ahead - timedelta(seconds=5)), sentAt=iso(ahead)) == RECEIVED - timedelta(
        seconds=5
    )


@pytest.mark.parametrize("field", ["timestamp", "originalTimestamp"])
def test_a_future_time_without_sent_at_is_the_receipt(field: str) -> None:
    assert occurred(**{field: "2099-01-01T00:00:00Z"}) == RECEIVED
    assert occurred(**{field: iso(RECEIVED + FUTURE_TOLERANCE + timedelta(seconds=1))}) == RECEIVED


def test_a_time_slightly_ahead_is_kept_within_the_tolerance() -> None:
    near = RECEIVED + FUTURE_TOLERANCE - timedelta(seconds=1)
    assert occurred(timestamp=iso(near)) == near


def test_a_correction_that_still_lands_in_the_future_is_the_receipt() -> None:
    """sentAt older than the event itself (a broken client): the correction points ahead of receipt."""
    moment = occurred(timestamp="2099-01-01T00:00:00Z", sentAt="2026-01-01T00:00:00Z")
    assert moment == RECEIVED


def test_a_historical_import_keeps_its_date() -> None:
    """A server backfilling 2020 with a correct clock: sentAt ≈ receipt, so the 2020 date stands."""
    old = datetime(2020, 3, 1, tzinfo=UTC)
    assert occurred(timestamp=iso(old), sentAt=iso(RECEIVED - timedelta(seconds=1))) == old + timedelta(seconds=1)


def plan_of(event: dict[str, Any]) -> Any:
    return map_call(parse_call(event), RECEIVED, LeadHandling.LEAD, event=event)


def test_no_time_sent_to_intercom_lies_in_the_future() -> None:
    future = "2099-01-01T00:00:00Z"
    identify = plan_of({
        "type": "identify", "userId": "u1", "timestamp": future, "traits": {"createdAt": future},
    })  # fmt: skip
    assert isinstance(identify, IdentifyPlan)
    assert identify.body["last_seen_at"] == identify.body["signed_up_at"] == unix_seconds(RECEIVED)
    group = plan_of({"type": "group", "userId": "u1", "groupId": "acme", "traits": {"createdAt": future}})
    assert isinstance(group, GroupPlan)
    assert group.company["remote_created_at"] == unix_seconds(RECEIVED)
    track = plan_of({"type": "track", "userId": "u1", "event": "Paid", "timestamp": future})
    assert isinstance(track, TrackPlan)
    assert track.event["created_at"] == unix_seconds(RECEIVED)


def test_a_past_trait_time_is_sent_as_it_is() -> None:
    plan = plan_of({"type": "identify", "userId": "u1", "traits": {"createdAt": "2021-05-01T00:00:00Z"}})
    assert isinstance(plan, IdentifyPlan)
    assert plan.body["signed_up_at"] == unix_seconds(datetime(2021, 5, 1, tzinfo=UTC))
