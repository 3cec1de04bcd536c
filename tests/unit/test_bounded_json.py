"""Bounded parsing: hostile numbers and nesting become named problems of one event, never exceptions."""

from __future__ import annotations

import pytest
from intercom_destination.intake.bounded_json import MAX_DEPTH, Unusable, loads, problems


@pytest.mark.parametrize(
    ("literal", "why"),
    [
        ("1e400", "finite"),
        ("-1e400", "finite"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("1" * 5000, "out of range"),
        ("9223372036854775808", "out of range"),
        ("-" + "9" * 30, "out of range"),
    ],
)
def test_unusable_numbers_become_markers_named_by_path(literal: str, why: str) -> None:
    event = loads('{"traits": {"employees": ' + literal + '}, "ok": 1}')
    assert isinstance(event["traits"]["employees"], Unusable)
    ((path, message),) = problems(event)
    assert path == "traits.employees"
    assert why in message


def test_numbers_within_bounds_are_plain_values() -> None:
    assert loads("[9223372036854775807, -9223372036854775807, 1.5e300, -0, 1e-400]") == [
        2**63 - 1,
        -(2**63 - 1),
        1.5e300,
        0,
        0.0,
    ]


def test_thousands_deep_nesting_is_cut_out_without_recursion() -> None:
    deep = "[" * 5000 + "]" * 5000
    body = loads('{"batch": [{"p": ' + deep + '}, {"ok": [[1]]}]}')
    first, second = body["batch"]
    ((path, message),) = problems(first)
    assert path.startswith("p.0.0")
    assert f"deeper than {MAX_DEPTH}" in message
    assert problems(second) == []


def test_nesting_below_the_parser_limit_is_found_by_the_walk() -> None:
    event = loads('{"p": ' + '{"k": ' * 100 + "1" + "}" * 100 + "}")
    ((path, message),) = problems(event)
    assert path.count(".") == MAX_DEPTH - 1
    assert "deeper" in message


def test_exactly_max_depth_is_allowed() -> None:
    event = loads('{"p": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}")
    assert problems(event) == []


def test_brackets_inside_strings_do_not_count() -> None:
    text = '{"batch": [{"s": "' + "[{" * 3000 + '", "deep": ' + "[" * 2000 + "]" * 2000 + "}]}"
    event = loads(text)["batch"][0]
    assert event["s"] == "[{" * 3000
    ((path, _),) = problems(event)
    assert path.startswith("deep.0")


def test_not_json_still_fails_as_a_value_error() -> None:
    for text in ("{", "[" * 3000, '{"a": }', b"\xff\xfe"):
        with pytest.raises(ValueError, match=r"\w"):
            loads(text)


def test_problems_are_capped() -> None:
    event = {"k" + str(n): Unusable("bad") for n in range(100)}
    assert len(problems(event)) == 20


def test_lone_surrogates_are_named_by_field_and_pairs_pass() -> None:
    event = loads(rb'{"userId": "\ud800", "traits": {"\udfff": 1, "ok": "\ud83d\ude00"}}')
    assert problems(event) == [
        ("userId", "holds a lone surrogate escape (\\ud800-\\udfff alone is not Unicode text)"),
        ("traits.\\udfff", "holds a lone surrogate escape (\\ud800-\\udfff alone is not Unicode text)"),
    ]
