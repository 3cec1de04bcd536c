"""Field mappings in the spelling of Segment's mapping-kit (the subset users write in the actions file).

A mapping value is a raw JSON value, an object of mapping values, or a directive: an object with one key
starting with `@`. `@path` reads the event (`$.traits.email`, `$.products[0].sku`, `$.traits["first name"]`);
`@template` fills `{{traits.first}} {{traits.last}}` (a missing value fills nothing); `@if` chooses `then`
or `else` on whether a value `exists` (is neither missing nor null) or is `blank` (missing, null or "");
`@literal` is its value, never read as a directive. Missing values resolve to None.

`check` validates a whole mapping value once, at load; `resolve` then never raises on any event.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

DIRECTIVES = ("@path", "@template", "@if", "@literal")
#: A configuration deeper than this is a mistake (and resolving it must stay cheap).
MAX_DEPTH = 32
_SEGMENT = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\[(?:"([^"]*)"|'([^']*)')\]""")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

Path = tuple[str | int, ...]


class MappingError(ValueError):
    """One problem in a mapping value; `where` is the field path within the mapping (e.g. `name.@if.then`)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def check(value: Any, where: str, depth: int = 0) -> None:
    """Raises MappingError for the first problem found: unknown directive, malformed path or branch."""
    if depth > MAX_DEPTH:
        raise MappingError(where, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        for position, item in enumerate(value):
            check(item, f"{where}[{position}]", depth + 1)
        return
    if not isinstance(value, dict):
        return
    directive = _directive(value, where)
    if directive is None:
        for key, item in value.items():
            check(item, f"{where}.{key}", depth + 1)
        return
    argument = value[directive]
    inner = f"{where}.{directive}"
    if directive == "@path":
        if not isinstance(argument, str):
            raise MappingError(inner, 'must be a string such as "$.traits.email"')
        parse_path(argument, inner)
    elif directive == "@template":
        if not isinstance(argument, str):
            raise MappingError(inner, 'must be a string such as "{{traits.first}} {{traits.last}}"')
        for placeholder in _PLACEHOLDER.findall(argument):
            parse_path(f"$.{placeholder}", inner)
    elif directive == "@if":
        _check_if(argument, inner, depth)


def _directive(value: dict[str, Any], where: str) -> str | None:
    directives = [key for key in value if isinstance(key, str) and key.startswith("@")]
    if not directives:
        return None
    if directives[0] not in DIRECTIVES:
        raise MappingError(where, f"{directives[0]} is not a directive (known: {', '.join(DIRECTIVES)})")
    if len(value) > 1:
        raise MappingError(where, f"{directives[0]} must be the object's only key (found: {', '.join(value)})")
    return directives[0]


def _check_if(argument: Any, where: str, depth: int) -> None:
    if not isinstance(argument, dict):
        raise MappingError(where, 'must be an object: {"exists" or "blank": ..., "then": ..., "else": ...}')
    conditions = [key for key in ("exists", "blank") if key in argument]
    if len(conditions) != 1:
        raise MappingError(where, 'needs exactly one condition, "exists" or "blank"')
    if unknown := sorted(set(argument) - {"exists", "blank", "then", "else"}):
        raise MappingError(where, f"unknown key {unknown[0]!r} (known: exists, blank, then, else)")
    for key, branch in argument.items():
        check(branch, f"{where}.{key}", depth + 1)


def parse_path(text: str, where: str = "@path") -> Path:
    """`$.a.b`, `$.a[0]`, `$.a["b c"]` → ("a", "b"), ("a", 0), ("a", "b c"). Raises MappingError."""
    parsed = _parse_path(text)
    if parsed is None:
        raise MappingError(where, f'{text!r} is not a path: write "$" then .name, [index] or ["name"]')
    return parsed


@lru_cache(maxsize=1024)
def _parse_path(text: str) -> Path | None:
    if not text.startswith("$"):
        return None
    segments: list[str | int] = []
    position = 1
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            return None
        name, index, double, single = match.groups()
        segments.append(int(index) if index is not None else next(s for s in (name, double, single) if s is not None))
        position = match.end()
    return tuple(segments)


def read(event: Any, path: Path) -> Any:
    """The value at `path`, or None when any step is missing or of the wrong kind."""
    value = event
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                return None
            value = value[segment]
        elif isinstance(value, dict):
            value = value.get(segment)
        else:
            return None
    return value


def resolve(value: Any, event: dict[str, Any]) -> Any:
    """The mapping value for this event (checked first with `check`)."""
    if isinstance(value, list):
        return [resolve(item, event) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith("@"):
        resolved = {key: resolve(item, event) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not None}
    ((directive, argument),) = value.items()
    if directive == "@path":
        return read(event, parse_path(argument))
    if directive == "@template":
        return _PLACEHOLDER.sub(lambda match: _text(read(event, parse_path(f"$.{match[1]}"))), argument)
    if directive == "@if":
        tested = resolve(argument.get("exists", argument.get("blank")), event)
        holds = tested is not None if "exists" in argument else tested is None or tested == ""
        return resolve(argument.get("then" if holds else "else"), event)
    return argument  # @literal


def _text(value: Any) -> str:
    """A template's placeholder: scalars as text, anything else (missing, objects, arrays) as nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return ""
