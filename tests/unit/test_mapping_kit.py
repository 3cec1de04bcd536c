"""Mapping directives in mapping-kit's spelling (@path, @template, @if, @literal), table-tested."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_destination.mapping.kit import MappingError, check, resolve

EVENT = {
    "userId": "u-1",
    "traits": {"first": "Ada", "last": "Lovelace", "name": "", "email": None, "age": 36, "vip": True},
    "properties": {"products": [{"sku": "p-1"}, {"sku": "p-2"}], "first name": "Ada"},
}


@pytest.mark.parametrize(
    ("mapping", "value"),
    [
        ("plain", "plain"),
        (42, 42),
        (None, None),
        ({"@path": "$.userId"}, "u-1"),
        ({"@path": "$.traits.first"}, "Ada"),
        ({"@path": "$.traits"}, EVENT["traits"]),
        ({"@path": "$.properties.products[1].sku"}, "p-2"),
        ({"@path": "$.properties.products[5].sku"}, None),
        ({"@path": '$.properties["first name"]'}, "Ada"),
        ({"@path": "$.properties['first name']"}, "Ada"),
        ({"@path": "$.traits.first.deeper"}, None),
        ({"@path": "$.missing.deeper[0]"}, None),
        ({"@path": "$"}, EVENT),
        ({"@template": "{{traits.first}} {{traits.last}}"}, "Ada Lovelace"),
        ({"@template": "{{ traits.first }}-{{traits.missing}}"}, "Ada-"),
        ({"@template": "{{traits.age}} {{traits.vip}} {{properties.products}}"}, "36 true "),
        ({"@template": "no placeholders"}, "no placeholders"),
        ({"@if": {"exists": {"@path": "$.traits.first"}, "then": "yes", "else": "no"}}, "yes"),
        ({"@if": {"exists": {"@path": "$.traits.email"}, "then": "yes", "else": "no"}}, "no"),  # null
        ({"@if": {"exists": {"@path": "$.traits.name"}, "then": "yes", "else": "no"}}, "yes"),  # "" exists
        ({"@if": {"blank": {"@path": "$.traits.name"}, "then": "blank", "else": "set"}}, "blank"),
        ({"@if": {"blank": {"@path": "$.traits.missing"}, "then": "blank"}}, "blank"),
        ({"@if": {"blank": {"@path": "$.traits.first"}, "then": "blank"}}, None),  # no else: nothing
        (
            {
                "@if": {
                    "exists": {"@path": "$.traits.name"},
                    "then": {"@path": "$.traits.name"},
                    "else": {"@template": "{{traits.first}} {{traits.last}}"},
                }
            },
            "",
        ),
        ({"@literal": {"@path": "$.userId"}}, {"@path": "$.userId"}),
        ({"@literal": None}, None),
        ({"id": {"@path": "$.userId"}, "gone": {"@path": "$.missing"}, "n": 1}, {"id": "u-1", "n": 1}),
        ([{"@path": "$.userId"}, "x"], ["u-1", "x"]),
    ],
)
def test_directives(mapping: Any, value: Any) -> None:
    check(mapping, "field")
    assert resolve(mapping, EVENT) == value


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"@pth": "$.a"}, "field: @pth is not a directive (known: @path, @template, @if, @literal)"),
        ({"@path": "$.a", "other": 1}, "field: @path must be the object's only key (found: @path, other)"),
        ({"@path": 3}, 'field.@path: must be a string such as "$.traits.email"'),
        (
            {"@path": "traits.email"},
            'field.@path: \'traits.email\' is not a path: write "$" then .name, [index] or ["name"]',
        ),
        ({"@path": "$.a[x]"}, 'field.@path: \'$.a[x]\' is not a path: write "$" then .name, [index] or ["name"]'),
        ({"@path": "$..a"}, 'field.@path: \'$..a\' is not a path: write "$" then .name, [index] or ["name"]'),
        ({"@template": ["{{a}}"]}, 'field.@template: must be a string such as "{{traits.first}} {{traits.last}}"'),
        (
            {"@template": "{{a[x]}}"},
            'field.@template: \'$.a[x]\' is not a path: write "$" then .name, [index] or ["name"]',
        ),
        ({"@if": "x"}, 'field.@if: must be an object: {"exists" or "blank": ..., "then": ..., "else": ...}'),
        ({"@if": {"then": 1}}, 'field.@if: needs exactly one condition, "exists" or "blank"'),
        ({"@if": {"exists": 1, "blank": 2}}, 'field.@if: needs exactly one condition, "exists" or "blank"'),
        ({"@if": {"exists": 1, "than": 2}}, "field.@if: unknown key 'than' (known: exists, blank, then, else)"),
        (
            {"@if": {"exists": {"@oops": 1}}},
            "field.@if.exists: @oops is not a directive (known: @path, @template, @if, @literal)",
        ),
        (
            {"@if": {"exists": 1, "else": {"@path": "x"}}},
            'field.@if.else.@path: \'x\' is not a path: write "$" then .name, [index] or ["name"]',
        ),
        ({"a": {"b": {"@nope": 1}}}, "field.a.b: @nope is not a directive (known: @path, @template, @if, @literal)"),
        ([1, {"@nope": 1}], "field[1]: @nope is not a directive (known: @path, @template, @if, @literal)"),
    ],
)
def test_directive_errors_name_the_place_and_the_problem(mapping: Any, error: str) -> None:
    with pytest.raises(MappingError) as raised:
        check(mapping, "field")
    assert str(raised.value) == error


def test_a_configuration_too_deep_is_refused() -> None:
    mapping: Any = "leaf"
    for _ in range(40):
        mapping = {"a": mapping}
    with pytest.raises(MappingError, match="nested deeper than 32 levels"):
        check(mapping, "field")


@pytest.mark.parametrize("event", [{}, {"traits": "text"}, {"traits": [1, 2]}, {"properties": {"products": "x"}}])
def test_resolving_never_raises_on_odd_events(event: dict[str, Any]) -> None:
    mapping = {
        "a": {"@path": "$.traits.first"},
        "b": {"@template": "{{traits.first}}{{properties.products[0].sku}}"},
        "c": {"@if": {"blank": {"@path": "$.properties.products[0]"}, "then": 1, "else": 2}},
    }
    check(mapping, "field")
    assert resolve(mapping, event) == {"b": "", "c": 1}
