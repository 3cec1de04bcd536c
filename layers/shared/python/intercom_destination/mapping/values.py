"""Value rules shared by every mapping: flattening to Intercom's scalars, key clean-up, money, timestamps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

from intercom_destination.intake.money import MAX_MINOR_UNITS, minor_units, money_problems
from intercom_destination.intake.timestamps import parse_timestamp, unix_seconds
from intercom_destination.mapping.plans import Price, Scalar

#: Intercom keeps string values up to 255 characters.
MAX_STRING = 255
#: Integers we send: signed 64-bit (bounded_json refuses larger JSON numbers; this bounds numeric strings).
MAX_INTEGER = 2**63 - 1
_MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))
_MAX_NUMBER_TEXT = 64
#: Tags one event may apply or remove.
MAX_TAGS = 20
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


def custom_attributes(traits: Mapping[str, Any], excluded: frozenset[str]) -> dict[str, Scalar]:
    """Every other trait, flattened; a flattened key that lands on a reserved name is dropped too."""
    rest = {key: value for key, value in traits.items() if key not in excluded}
    return {key: value for key, value in flatten(rest) if key not in excluded}


def _scalar_text(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def first(values: Mapping[str, Any], *keys: str) -> Any:
    """The first non-empty value among alternative spellings (createdAt / created_at)."""
    for key in keys:
        value = values.get(key)
        if not is_empty(value):
            return value
    return None


def tag_names(value: Any) -> tuple[str, ...] | None:
    """Tag names: a list of them (or one name), each text, without repeats (Intercom compares names without
    case), at most MAX_TAGS: each costs a call the first time."""
    names = value if isinstance(value, list) else [value]
    kept: dict[str, str] = {}
    for name in names:
        if (found := text(name)) and found.strip():
            kept.setdefault(found.strip().casefold(), found.strip())
    return tuple(list(kept.values())[:MAX_TAGS]) or None


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
    """Intercom truncates floats; we do the same explicitly, and cap where Intercom caps. A number
    beyond 64 bits is left out: that large, it is a mistake, not a measurement."""
    number = _decimal(value)
    if number is None or number.adjusted() >= _MAX_INTEGER_DIGITS:  # checked before int(): no huge conversion
        return None
    whole = int(number)
    if not -MAX_INTEGER <= whole <= MAX_INTEGER:
        return None
    return min(whole, maximum) if maximum is not None else whole


def _decimal(value: Any) -> Decimal | None:
    """A finite number from a JSON number or a numeric string (a short one: no 200,000-digit strings)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def price(revenue: Any, currency: Any) -> Price | None:
    """Revenue in major units → integer minor units by decimal rounding (19.99 → 1999, never 1998).

    Zero-decimal currencies (JPY) are not multiplied. Revenue 0 is a price; negative or
    non-numeric revenue is not (Intercom's amounts are positive), and is left to the caller. A revenue
    already shaped as money (`{amount, currency}`, amount in minor units) is that price as given.
    """
    if isinstance(revenue, dict):
        if money_problems(revenue):
            return None
        return {"amount": cast(int, minor_units(revenue["amount"])), "currency": revenue["currency"].upper()}
    amount = _decimal(revenue)
    if amount is None or amount < 0 or amount.adjusted() >= _MAX_INTEGER_DIGITS:
        return None
    code = (text(currency) or "USD").upper()
    exponent = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    minor = int((amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {"amount": minor, "currency": code} if minor <= MAX_MINOR_UNITS else None
