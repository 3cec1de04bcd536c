"""What an action type is: its fields, each with today's default and the coercion of a mapped value, and
how the field values become one Intercom plan. The defaults are the fixed mapping this destination had
before actions were configurable, so the default actions file behaves exactly as that mapping did."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Alias, Group, Identify, Page, Screen, Track
from intercom_destination.intake.timestamps import not_after
from intercom_destination.mapping import kit
from intercom_destination.mapping.plans import Plan
from intercom_destination.mapping.values import custom_attributes, first, tag_names, text

AnyCall = Identify | Track | Page | Screen | Group | Alias
#: Where a type's fields read traits from by default (the person's, or a group's company's).
Traits = Callable[[AnyCall], dict[str, Any]]


@dataclass(frozen=True)
class Field:
    """`default(call, received_at)` is the value when the mapping leaves the field out; `coerce` turns a
    mapped JSON value into what Intercom accepts for the field (None: left out of the request)."""

    default: Callable[[AnyCall, datetime], Any]
    coerce: Callable[[Any], Any]
    required: bool = False  # Intercom needs it: a mapping may change it, never turn it off
    moment: bool = False  # a time (unix s): never sent in the future (timestamps.not_after)
    description: str = ""  # where the default comes from, and what a mapped value becomes (docs/actions.md)


@dataclass(frozen=True)
class ActionKind:
    fields: Mapping[str, Field]
    build: Callable[[dict[str, Any], LeadHandling], Plan]

    def plan(
        self,
        call: AnyCall,
        received_at: datetime,
        lead_handling: LeadHandling,
        mapping: Mapping[str, Any],
        event: dict[str, Any],
    ) -> Plan:
        """The plan for this event: mapped fields from `event` (the JSON as received), the others by default."""
        values = {}
        for name, field in self.fields.items():
            if name not in mapping:
                values[name] = field.default(call, received_at)
            elif (directive := mapping[name]) is not None:
                values[name] = field.coerce(kit.resolve(directive, event))
                if values[name] is None and field.required:
                    values[name] = field.default(call, received_at)
            else:
                values[name] = None
            if field.moment and isinstance(values[name], int):
                values[name] = not_after(values[name], received_at)
        return self.build(values, lead_handling)


def trait(
    traits: Traits, *names: str, coerce: Callable[[Any], Any] = text, moment: bool = False, description: str = ""
) -> Field:
    """A field whose default is the first non-empty of `names` (alternative spellings) in the traits."""
    return Field(lambda call, _: coerce(first(traits(call), *names)), coerce, moment=moment, description=description)


def attributes(traits: Traits, standard: frozenset[str], reserved: frozenset[str], description: str) -> Field:
    """custom_attributes: by default every trait no standard field reads; mapped, the object as given. Both
    flattened; Intercom's own attribute names are never custom ones."""
    return Field(
        lambda call, _: custom_attributes(traits(call), standard | reserved),
        lambda value: custom_attributes(value, reserved) if isinstance(value, dict) else {},
        description=description,
    )


def identifier(value: Any) -> str | None:
    """An id Intercom can address: text, but never `.` or `..` (a path step, once in a URL)."""
    found = text(value)
    return None if found in (".", "..") else found


def person_traits(call: AnyCall) -> dict[str, Any]:
    """The person's traits: an identify's own, else those the event carries in context.traits."""
    return call.traits if isinstance(call, Identify) else call.context_traits


def properties_of(call: AnyCall) -> dict[str, Any]:
    return call.properties if isinstance(call, Track | Page | Screen) else {}


def field_table(kinds: Mapping[str, ActionKind]) -> str:
    """Every action type's fields as docs/actions.md shows them: generated from the code, never typed twice."""
    rows = ["| action type | field | required | default, and what a mapped value becomes |", "|---|---|---|---|"]
    for kind_name, kind in kinds.items():
        for field_name, field in kind.fields.items():
            rows.append(f"| `{kind_name}` | `{field_name}` | {'yes' if field.required else ''} | {field.description} |")
    return "\n".join(rows)


def tag_fields(traits: Traits, what: str) -> dict[str, Field]:
    """`tags` (applied) and `untags` (taken off; none unless mapped) of a contact or company."""
    return {
        "tags": trait(
            traits,
            "tags",
            coerce=tag_names,
            description="`traits.tags`: tag names (or one), each applied once; Intercom's tags only add, at most 20",
        ),
        "untags": Field(
            lambda call, _: None,
            tag_names,
            description=f'none by default; mapped: the tag names taken off the {what}, e.g. `{{"@path": "$.traits.removed_tags"}}`',
        ),
    }
