"""Action triggers in Segment's subscription syntax, the subset users write:

    type = "track" and (event = "Signed Up" or match(event, "Order*"))
    properties.plan != null and traits.beta = true and contains(event, "Heartbeat")

Comparisons are `=` and `!=` against a string, number, true, false or null (`!= null`: the field exists);
`contains(field, "text")` and `match(field, "glob*")` test strings; `and` binds tighter than `or`;
parentheses group. A field is a dotted path into the event (`properties.plan`, `context.traits.email`).
`compile_trigger` parses once, at load, and raises TriggerError with the column; the compiled trigger
never raises on any event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from intercom_destination.mapping.kit import read

Trigger = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<op>!=|=|\(|\)|,)
      | (?P<word>[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*)
    )""",
    re.VERBOSE,
)
_FUNCTIONS = {"contains", "match"}
_CONSTANTS = {"true": True, "false": False, "null": None}


class TriggerError(ValueError):
    def __init__(self, problem: str, column: int) -> None:
        super().__init__(f"{problem} at column {column}")
        self.problem = problem
        self.column = column


class _Token:
    __slots__ = ("column", "kind", "text")

    def __init__(self, kind: str, text: str, column: int) -> None:
        self.kind, self.text, self.column = kind, text, column


def _tokens(source: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(source):
        if not source[position:].strip():
            break
        match = _TOKEN.match(source, position)
        if match is None or match.lastgroup is None:
            column = position + len(source[position:]) - len(source[position:].lstrip()) + 1
            raise TriggerError(f"unexpected {source[column - 1]!r}", column)
        tokens.append(_Token(match.lastgroup, match[match.lastgroup], match.start(match.lastgroup) + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self._tokens = _tokens(source)
        self._next = 0

    def parse(self) -> Trigger:
        if self._peek().kind == "end":
            raise TriggerError("empty trigger", 1)
        trigger = self._or()
        token = self._peek()
        if token.kind != "end":
            raise TriggerError(f"expected 'and', 'or' or the end, found {token.text!r}", token.column)
        return trigger

    def _peek(self) -> _Token:
        return self._tokens[self._next]

    def _take(self, kind: str, text: str | None = None, wanted: str = "") -> _Token:
        token = self._peek()
        if token.kind != kind or (text is not None and token.text != text):
            found = repr(token.text) if token.kind != "end" else "the end"
            raise TriggerError(f"expected {wanted or repr(text)}, found {found}", token.column)
        self._next += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind == "word" and token.text == word:
            self._next += 1
            return True
        return False

    def _or(self) -> Trigger:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda event: any(part(event) for part in parts)

    def _and(self) -> Trigger:
        parts = [self._factor()]
        while self._keyword("and"):
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else lambda event: all(part(event) for part in parts)

    def _factor(self) -> Trigger:
        token = self._peek()
        if token.kind == "op" and token.text == "(":
            self._next += 1
            inner = self._or()
            self._take("op", ")")
            return inner
        field = self._take("word", wanted="a field such as type, event or properties.plan")
        if field.text in ("and", "or", *_CONSTANTS):
            raise TriggerError(f"expected a field, found {field.text!r}", field.column)
        if field.text in _FUNCTIONS and self._peek().text == "(":
            return self._function(field.text)
        operator = self._take("op", wanted="'=' or '!='")
        if operator.text not in ("=", "!="):
            raise TriggerError(f"expected '=' or '!=', found {operator.text!r}", operator.column)
        expected = self._value()
        path = tuple(field.text.split("."))
        if operator.text == "=":
            return lambda event: _equal(read(event, path), expected)
        return lambda event: not _equal(read(event, path), expected)

    def _function(self, name: str) -> Trigger:
        self._take("op", "(")
        path = tuple(self._take("word", wanted="a field").text.split("."))
        self._take("op", ",")
        pattern = self._string()
        self._take("op", ")")
        if name == "contains":
            return lambda event: isinstance(value := read(event, path), str) and pattern in value
        return lambda event: isinstance(value := read(event, path), str) and fnmatchcase(value, pattern)

    def _string(self) -> str:
        token = self._take("string", wanted='a "quoted string"')
        try:
            return str(json.loads(token.text))
        except json.JSONDecodeError as exc:
            raise TriggerError(f"bad string: {exc.msg}", token.column) from None

    def _value(self) -> Any:
        token = self._peek()
        if token.kind == "string":
            return self._string()
        if token.kind == "number":
            self._next += 1
            return json.loads(token.text)
        if token.kind == "word" and token.text in _CONSTANTS:
            self._next += 1
            return _CONSTANTS[token.text]
        found = repr(token.text) if token.kind != "end" else "the end"
        raise TriggerError(f'expected a value ("text", a number, true, false or null), found {found}', token.column)


def compile_trigger(source: str) -> Trigger:
    """Parses a trigger; raises TriggerError naming the problem and its column."""
    return _Parser(source).parse()


def _equal(actual: Any, expected: Any) -> bool:
    """JSON equality: true is not 1, "1" is not 1; missing equals null."""
    if expected is None or isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return bool(actual == expected) if isinstance(actual, str | int | float) else False
