"""A revenue already shaped as Intercom money, `{"amount": 1999, "currency": "EUR"}` (amount in minor units,
as Intercom's monetary metadata takes it): checked field by field, so a malformed one is refused naming
the part that is wrong rather than dropped. An object with neither part is not trying to be money: it is
dropped, as any other object revenue."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

#: The largest amount a JSON number carries exactly in every SDK (JavaScript's safe integers).
MAX_MINOR_UNITS = 2**53 - 1
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def is_money_like(value: Any) -> TypeGuard[dict[str, Any]]:
    """An object that names an amount or a currency: meant as money, so checked (and refused if wrong)."""
    return isinstance(value, dict) and not _PARTS.isdisjoint(value)


def money_problems(value: dict[str, Any]) -> list[tuple[str, str]]:
    """(part, message) for each part of a money object that is wrong; none: it is a price."""
    problems = [(str(key), "not part of a money object (amount, currency)") for key in value if key not in _PARTS]
    if minor_units(value.get("amount")) is None:
        problems.append(("amount", f"must be a whole number of minor units (cents), from 0 to {MAX_MINOR_UNITS}"))
    currency = value.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        problems.append(("currency", "must be a three-letter ISO 4217 code, e.g. EUR"))
    return problems


def minor_units(amount: Any) -> int | None:
    """A whole, non-negative amount within the limit (2.0 counts as 2: some SDKs send integers as floats)."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    if isinstance(amount, float) and not amount.is_integer():
        return None
    whole = int(amount)
    return whole if 0 <= whole <= MAX_MINOR_UNITS else None


_PARTS = frozenset({"amount", "currency"})
