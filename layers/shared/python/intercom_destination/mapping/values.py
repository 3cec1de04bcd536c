"""Value rules shared by every mapping: flattening to Intercom's scalars, key clean-up, money, timestamps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ..timestamps import parse_timestamp, unix_seconds
from .plans import Price, Scalar

#: Intercom keeps string values up to 255 characters.
MAX_STRING = 255
#: Characters Intercom forbids in metadata keys, and that custom attribute names cannot carry.
_BAD_KEY_CHARS = re.compile(r"[.$~`!@#%^&*'{}|\\\"\x00\s/]+")

#: Currencies with no minor unit (ISO 4217 exponent 0): the amount is sent as is, not ×100.
ZERO_DECIMAL_CURRENCIES = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
#: Currencies with three decimals (exponent 3).
THREE_DECIMAL_CURRENCIES = frozenset("BHD IQD JOD KWD LYD OMR TND".split())


def clean_key(key: str) -> str:
    """A key Intercom accepts: forbidden characters become `_`."""
    return _BAD_KEY_CHARS.sub("_", key.strip()).strip("_")


def cut(text: str) -> str:
    return text[:MAX_STRING]


def is_empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Scalar]]:
    """Nested objects become `parent_child` keys; arrays of scalars are joined with ", "; arrays holding
    objects, nulls and empty values are dropped. Strings are cut to Intercom's 255 characters."""
    for raw_key, value in values.items():
        key = clean_key(f"{prefix}_{raw_key}" if prefix else str(raw_key))
        if not key or is_empty(value):
            continue
        if isinstance(value, Mapping):
            yield from flatten(value, key)
        elif isinstance(value, list):
            if all(isinstance(item, str | int | float | bool) for item in value):
                yield key, cut(", ".join(_scalar_text(item) for item in value))
        elif isinstance(value, str):
            yield key, cut(value)
        elif isinstance(value, int | float | bool):
            yield key, value


def _scalar_text(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def first(values: Mapping[str, Any], *keys: str) -> Any:
    """The first non-empty value among alternative spellings (createdAt / created_at)."""
    for key in keys:
        value = values.get(key)
        if not is_empty(value):
            return value
    return None


def text(value: Any) -> str | None:
    """A scalar as a cut string; objects and arrays are not text."""
    if is_empty(value) or isinstance(value, dict | list):
        return None
    return cut(_scalar_text(value).strip()) or None


def unix(value: Any) -> int | None:
    """A trait's time (ISO 8601 or unix s/ms) as unix seconds; unparsable values are left out."""
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return None
    return unix_seconds(moment) if moment else None


def integer(value: Any, maximum: int | None = None) -> int | None:
    """Intercom truncates floats; we do the same explicitly, and cap where Intercom caps."""
    if isinstance(value, bool):
        return None
    try:
        number = int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return min(number, maximum) if maximum is not None else number


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def price(revenue: Any, currency: Any) -> Price | None:
    """Revenue in major units → integer minor units by decimal rounding (19.99 → 1999, never 1998).

    Zero-decimal currencies (JPY) are not multiplied. Revenue 0 is a price; negative or
    non-numeric revenue is not (Intercom's amounts are positive), and is left to the caller.
    """
    if isinstance(revenue, bool) or is_empty(revenue):
        return None
    try:
        amount = Decimal(str(revenue))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    code = (text(currency) or "USD").upper()
    exponent = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    minor = (amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return {"amount": int(minor), "currency": code}
