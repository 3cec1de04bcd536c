from __future__ import annotations

from datetime import UTC, datetime

import pytest
from intercom_destination.intake.timestamps import parse_timestamp, unix_seconds

MOMENT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.000Z",
        "2026-11-20T11:00:00+01:00",
        "2026-11-20T10:00:00",
        1795168800,
        1795168800000,
        "1795168800",
        "1795168800000",
        1795168800.0,
    ],
)
def test_every_form_is_the_same_moment(value: object) -> None:
    assert parse_timestamp(value) == MOMENT
    assert unix_seconds(MOMENT) == 1795168800


@pytest.mark.parametrize("value", [None, ""])
def test_absent(value: object) -> None:
    assert parse_timestamp(value) is None


@pytest.mark.parametrize("value", ["soon", True, [2026], {"at": 1}])
def test_not_a_time(value: object) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|timestamp|time"):
        parse_timestamp(value)
