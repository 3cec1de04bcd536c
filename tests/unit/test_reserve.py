"""The finishing reserve: what a request keeps of its budget after its last Intercom call, learned from
the requests this instance finished."""

from __future__ import annotations

import pytest
from intercom_destination.ingest.reserve import (
    BASE_SECONDS,
    DECAY,
    FIRST_RATE,
    FLOOR_RATE,
    MARGIN,
    MAX_SHARE,
    FinishingReserve,
)


def test_a_new_instance_keeps_the_base_and_a_millisecond_per_event() -> None:
    assert FinishingReserve().seconds(500, 5) == pytest.approx(BASE_SECONDS + 500 * FIRST_RATE)


def test_a_slow_finish_raises_the_reserve_at_once_and_fast_ones_lower_it_by_a_fifth_each() -> None:
    reserve = FinishingReserve()
    reserve.observe(500, BASE_SECONDS + 1.0)  # 2 ms per event: a throttled table, a busy core
    assert reserve.seconds(500, 5) == pytest.approx(BASE_SECONDS + MARGIN * 1.0)
    reserve.observe(500, 0.1)
    assert reserve.seconds(500, 5) == pytest.approx(BASE_SECONDS + MARGIN * 1.0 * DECAY)
    for _ in range(50):
        reserve.observe(500, 0.1)
    assert reserve.seconds(500, 5) == pytest.approx(BASE_SECONDS + 500 * FLOOR_RATE)  # never below the floor


def test_fast_finishes_let_a_big_request_deliver_longer_than_the_first_guess() -> None:
    reserve = FinishingReserve()
    first = reserve.seconds(2500, 5)
    for _ in range(10):
        reserve.observe(2500, BASE_SECONDS + 0.5)  # 0.2 ms per event measured
    assert reserve.seconds(2500, 5) == pytest.approx(BASE_SECONDS + MARGIN * 0.5)
    assert reserve.seconds(2500, 5) < first


def test_the_reserve_never_takes_more_than_its_share_of_the_budget() -> None:
    reserve = FinishingReserve()
    reserve.observe(10, 60.0)  # the local emulator, or DynamoDB timing out
    assert reserve.seconds(2500, 5) == reserve.seconds(1, 5) == 5 * MAX_SHARE


def test_a_request_without_events_teaches_nothing() -> None:
    reserve = FinishingReserve()
    reserve.observe(0, 60.0)
    assert reserve.seconds(100, 5) == FinishingReserve().seconds(100, 5)
