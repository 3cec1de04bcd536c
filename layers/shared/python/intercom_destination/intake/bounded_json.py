"""Callers' JSON, parsed with bounds: no unbounded recursion, no unbounded numbers, no NaN.

A value past a bound is not an error for the whole request: it becomes an `Unusable` marker in place,
and `problems()` names it, so only the event that holds it is refused while the rest of a batch goes on.
Bounds (see README "What bad input gets"):
- integers beyond the signed 64-bit range, floats that overflow to infinity, and NaN/Infinity literals;
- nesting deeper than MAX_DEPTH levels inside one event (and the C parser's own recursion limit, which
  a body 1,000 levels deep would otherwise hit: such subtrees are cut out before parsing);
- strings (values or keys) holding a lone surrogate escape, which no UTF-8 encoder takes.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Levels of objects and arrays allowed inside one event (the event object itself is level 1).
MAX_DEPTH = 32
#: Levels the body may hold around an event: `{"batch": [ event ]}`.
_ENVELOPE_DEPTH = 2
MAX_INT = 2**63 - 1
_MAX_INT_DIGITS = len(str(MAX_INT))
#: Strings and brackets, the only tokens that matter for depth (a bracket inside a string is text).
_DEPTH_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True)
class Unusable:
    """A value we will not carry further; `why` is what the caller is told."""

    why: str

    def __str__(self) -> str:  # what json.dumps(default=str) and logs show instead of the value
        return f"<unusable: {self.why}>"


_NOT_FINITE = Unusable("must be a finite number (NaN and Infinity are not JSON)")
_TOO_BIG = Unusable(f"is out of range (numbers must be within ±{MAX_INT})")
_TOO_DEEP = Unusable(f"is nested deeper than {MAX_DEPTH} levels")
_SURROGATE = "holds a lone surrogate escape (\\ud800-\\udfff alone is not Unicode text)"


def loads(raw: bytes | str) -> Any:
    """json.loads with the bounds above; raises ValueError (JSONDecodeError, UnicodeDecodeError) only for
    a body that is not JSON at all."""
    try:
        return _loads(raw, None)
    except RecursionError:
        pass
    marker = secrets.token_hex(16)  # a string no caller can have sent on purpose
    text = raw if isinstance(raw, str) else raw.decode("utf-8")
    return _loads(_cut_deep(text, MAX_DEPTH + _ENVELOPE_DEPTH, marker), marker)


def _loads(text: bytes | str, marker: str | None) -> Any:
    def constant(_: str) -> Unusable:
        return _NOT_FINITE

    hook = None if marker is None else (lambda pairs: {k: _TOO_DEEP if v == marker else v for k, v in pairs})
    value = json.loads(
        text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=constant, object_pairs_hook=hook
    )
    if marker is not None:
        value = _unmark_arrays(value, marker)
    return value


def _parse_int(text: str) -> int | Unusable:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:  # checked before int(): no quadratic conversion
        return _TOO_BIG
    number = int(text)
    return number if -MAX_INT <= number <= MAX_INT else _TOO_BIG


def _parse_float(text: str) -> float | Unusable:
    number = float(text)
    return number if math.isfinite(number) else _NOT_FINITE


def _cut_deep(text: str, limit: int, marker: str) -> str:
    """Replace every object or array that opens deeper than `limit` with the string `marker`."""
    raw = text.encode("utf-8", "surrogatepass")
    out: list[bytes] = []
    kept_from = depth = 0
    cut_at: int | None = None
    for match in _DEPTH_TOKENS.finditer(raw):
        token = match.group()
        if token[0] == 0x22:  # a string
            continue
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit and cut_at is None:
                cut_at = match.start()
        else:
            if cut_at is not None and depth == limit + 1:
                out += (raw[kept_from:cut_at], b'"' + marker.encode() + b'"')
                kept_from, cut_at = match.end(), None
            depth -= 1
    out.append(raw[kept_from:cut_at])  # an unclosed deep tail is dropped: the parse then fails as it should
    return b"".join(out).decode("utf-8", "surrogatepass")


def _unmark_arrays(value: Any, marker: str) -> Any:
    """Objects were unmarked by the pairs hook; arrays hold the marker as a plain item. Iterative walk."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if item == marker:
                    node[index] = _TOO_DEEP
                elif isinstance(item, list | dict):
                    stack.append(item)
        elif isinstance(node, dict):
            stack.extend(item for item in node.values() if isinstance(item, list | dict))
    return value


def _lone_surrogate(value: object) -> bool:
    """JSON's `\\ud800` escapes decode to text no UTF-8 encoder (ours, botocore's, Intercom's) accepts."""
    if not isinstance(value, str) or value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problems(event: Any, limit: int = 20) -> list[tuple[str, str]]:
    """(field path, message) for each unusable value or over-deep nesting in `event`, first `limit` of them.

    Iterative, so it is safe on any structure `loads` returns; run it before anything recursive."""
    found = []
    for path, why in _walk(event):
        found.append((path or "(event)", why))
        if len(found) >= limit:
            break
    return found


def _walk(event: Any) -> Iterator[tuple[str, str]]:
    if isinstance(event, Unusable):
        yield "", event.why
    stack: list[tuple[str, Any, int]] = [("", event, 1)] if isinstance(event, dict | list) else []
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            yield path, _TOO_DEEP.why
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node)
        nested = []
        for key, child in items:
            if isinstance(child, Unusable):
                yield (f"{path}.{key}" if path else str(key)), child.why
            elif _lone_surrogate(child) or _lone_surrogate(key):
                shown = str(key).encode("utf-8", "backslashreplace").decode()  # the answer must encode too
                yield (f"{path}.{shown}" if path else shown), _SURROGATE
            elif isinstance(child, dict | list):
                nested.append((f"{path}.{key}" if path else str(key), child, depth + 1))
        stack.extend(reversed(nested))
