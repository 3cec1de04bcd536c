"""The actions file: which actions an event fires (triggers) and how each maps it (field mappings).

    {"actions": [{"name": "Track Event", "type": "track_event", "enabled": true,
                  "trigger": "type = \\"track\\"", "mapping": {"event_name": {"@path": "$.event"}}}]}

A field left out of `mapping` keeps its default (the fixed mapping of `identify.py`, `group.py`,
`track.py`); `null` turns it off. The default file (`actions.default.json`) reproduces that fixed mapping
exactly. `load_actions` validates a whole file before any of it is used, and names every problem by
action and field; a file with a problem is never used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from intercom_destination.mapping import kit
from intercom_destination.mapping.detach import DETACH_COMPANY
from intercom_destination.mapping.fields import ActionKind
from intercom_destination.mapping.group import IDENTIFY_COMPANY
from intercom_destination.mapping.identify import IDENTIFY_CONTACT
from intercom_destination.mapping.merge import MERGE_LEAD
from intercom_destination.mapping.track import TRACK_EVENT
from intercom_destination.mapping.triggers import Trigger, TriggerError, compile_trigger

KINDS: dict[str, ActionKind] = {
    "identify_contact": IDENTIFY_CONTACT,
    "identify_company": IDENTIFY_COMPANY,
    "detach_company": DETACH_COMPANY,
    "track_event": TRACK_EVENT,
    "merge_lead": MERGE_LEAD,
}
#: The event type each action type fires on by default: its own messageId is its dedupe key, as before.
NATIVE_TYPE = {
    "identify_contact": "identify",
    "identify_company": "group",
    "detach_company": "",  # no event type's default action: its keys always carry its name
    "track_event": "track",
    "merge_lead": "alias",
}
DEFAULT_FILE = Path(__file__).with_name("actions.default.json")
_KEYS = {"name", "type", "enabled", "trigger", "mapping"}
MAX_NAME = 100


class ActionsError(ValueError):
    """Every problem of an actions file, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "\n  ".join(["invalid actions file", *problems]))
        self.problems = problems


@dataclass(frozen=True)
class Action:
    name: str
    type: str
    trigger: str
    mapping: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    matches: Trigger = field(default=lambda event: False, compare=False, repr=False)

    @property
    def kind(self) -> ActionKind:
        return KINDS[self.type]

    def spec(self) -> dict[str, Any]:
        """What a queued message records, so a replay maps the event as ingest did."""
        return {"name": self.name, "type": self.type, "trigger": self.trigger, "mapping": dict(self.mapping)}

    @classmethod
    def from_spec(cls, spec: Any) -> Action:
        """A recorded action, checked again (a newer version may have dropped a field it maps)."""
        return parse_actions({"actions": [spec]}, "the queued message's action").actions[0]

    def dedupe_suffix(self, event_type: str) -> str:
        """Keys of one event's actions differ by action name, except the default action of the event's own
        type, which keeps the event's key (so an upgrade does not deliver a resend again)."""
        native = default_action(event_type)
        return "" if native and (native.name, native.type) == (self.name, self.type) else f"/{self.name}"


@dataclass(frozen=True)
class ActionSet:
    actions: tuple[Action, ...]

    def fired(self, event: dict[str, Any]) -> list[Action]:
        """The enabled actions whose trigger matches the event, in file order."""
        return [action for action in self.actions if action.enabled and action.matches(event)]


def load_actions(text: str, source: str) -> ActionSet:
    """Parse and validate a whole actions file; raises ActionsError listing every problem."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ActionsError(source, [f"not JSON: {exc}"]) from None
    return parse_actions(data, source)


def parse_actions(data: Any, source: str) -> ActionSet:
    if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
        raise ActionsError(source, ['must be an object {"actions": [...]}'])
    problems: list[str] = []
    actions = [_action(position, entry, problems) for position, entry in enumerate(data["actions"])]
    names = [action.name for action in actions if action]
    problems += [f"action {name!r}: the name is used twice (names key de-duplication)" for name in _twice(names)]
    if problems:
        raise ActionsError(source, problems)
    return ActionSet(tuple(action for action in actions if action))


def _twice(names: list[str]) -> list[str]:
    return sorted({name for name in names if names.count(name) > 1})


def _action(position: int, entry: Any, problems: list[str]) -> Action | None:
    if not isinstance(entry, dict):
        problems.append(f"actions[{position}]: must be an object")
        return None
    name = entry.get("name")
    label = f"action {name!r}" if isinstance(name, str) and name.strip() else f"actions[{position}]"
    found: list[str] = []
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        found.append(f"name: must be a non-empty string of at most {MAX_NAME} characters")
    if unknown := sorted(set(entry) - _KEYS):
        found.append(f"{unknown[0]}: unknown key (known: {', '.join(sorted(_KEYS))})")
    kind = entry.get("type")
    if kind not in KINDS:
        found.append(f"type: {kind!r} is not an action type (known: {', '.join(KINDS)})")
    if not isinstance(entry.get("enabled", True), bool):
        found.append("enabled: must be true or false")
    trigger = entry.get("trigger")
    matches = None
    try:
        if not isinstance(trigger, str):
            raise TriggerError('must be a string such as "type = \\"track\\""', 1)
        matches = compile_trigger(trigger)
    except TriggerError as exc:
        found.append(f"trigger: {exc}")
    mapping = entry.get("mapping", {})
    if not isinstance(mapping, dict):
        found.append("mapping: must be an object of field: mapping")
    elif kind in KINDS:
        found += _mapping_problems(kind, mapping)
    problems += [f"{label}: {problem}" for problem in found]
    if found or matches is None:
        return None
    return Action(name, kind, trigger, mapping, entry.get("enabled", True), matches)  # type: ignore[arg-type]


def _mapping_problems(kind: str, mapping: dict[str, Any]) -> list[str]:
    fields = KINDS[kind].fields
    found = []
    for name, value in mapping.items():
        if name not in fields:
            found.append(f"mapping.{name}: unknown field of {kind} (fields: {', '.join(fields)})")
        elif value is None and fields[name].required:
            found.append(f"mapping.{name}: Intercom requires it; it can be mapped, not turned off")
        else:
            try:
                kit.check(value, f"mapping.{name}")
            except kit.MappingError as exc:
                found.append(str(exc))
    return found


@cache
def default_actions() -> ActionSet:
    return load_actions(DEFAULT_FILE.read_text(encoding="utf-8"), str(DEFAULT_FILE))


def default_action(event_type: str) -> Action | None:
    """The default file's action for an event of this type (identify, group, track), if any."""
    return next((action for action in default_actions().actions if NATIVE_TYPE[action.type] == event_type), None)
