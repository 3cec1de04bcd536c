"""Lenient timestamp parsing for what real SDKs and hand-written clients send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

#: Unix values above this are milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
_MILLISECONDS_THRESHOLD = 100_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How far past its receipt an event may be dated: beyond, the device's clock is wrong, and the event is
#: dated on receipt (devices are NTP-synced to within seconds; a few minutes covers queue-and-send lag).
FUTURE_TOLERANCE = timedelta(minutes=5)
# Segment's own docs show an unpadded month/day ("2015-2-02T…"); pad before fromisoformat.
_UNPADDED = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(.*)$")


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 or unix seconds/milliseconds (number or digit string) → aware UTC datetime.

    Returns None for None/"" (absent); raises ValueError for anything else that is not a time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 string or a unix timestamp")
    if isinstance(value, int | float):
        return _from_unix(float(value))
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string or a unix timestamp")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_unix(float(text))
    match = _UNPADDED.match(text)
    if match:
        year, month, day, rest = match.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}{rest}"
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not an ISO 8601 timestamp") from None
    try:  # 9999-12-31T23:59:59-05:00 is past datetime's range once in UTC
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


def _from_unix(number: float) -> datetime:
    if number < 0:
        raise ValueError("must not be negative")
    if number >= _MILLISECONDS_THRESHOLD:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("is out of range") from None


def plausible(moment: datetime | None) -> datetime | None:
    """An event time Intercom can store: None before the unix epoch (a device clock at zero, or year 1)."""
    return moment if moment is not None and moment >= EPOCH else None


def not_after(seconds: int, received_at: datetime) -> int:
    """A time for Intercom (unix seconds), never past receipt + FUTURE_TOLERANCE: past it, the receipt."""
    return seconds if seconds <= unix_seconds(received_at + FUTURE_TOLERANCE) else unix_seconds(received_at)


def unix_seconds(moment: datetime) -> int:
    """Intercom wants integer unix seconds everywhere."""
    return int(moment.timestamp())
