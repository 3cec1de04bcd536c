"""A person record as a DynamoDB item: read into the record types (records.py), and the conditional SET
clauses that write it, each key only over an older value (newest wins, latest learned wins)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from intercom_destination.delivery.identity import Entry
from intercom_destination.durability.records import Applied


@dataclass
class Update:
    """SET clauses for keys inside map attributes of a person's record, each only over an older value."""

    maps: tuple[str, ...]  # the map attributes it sets keys in (made first on a person's first record)
    sets: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)


def newer(newest: dict[str, int], seen: Mapping[str, int] | None = None) -> Update:
    """applied_at entries, each only if newer than what a concurrent request recorded (never roll back); with
    `seen` (the record as read before the writes to Intercom), only if nobody recorded one since."""
    update = Update(("applied_at",))
    for n, (key, ms) in enumerate(newest.items()):
        path = f"applied_at.#a{n}"
        update.names[f"#a{n}"] = key
        update.values[f":a{n}"] = {"N": str(ms)}
        update.sets.append(f"{path} = :a{n}")
        if seen is None:
            update.conditions.append(f"(attribute_not_exists({path}) OR {path} < :a{n})")
        elif key in seen:
            update.values[f":s{n}"] = {"N": str(seen[key])}
            update.conditions.append(f"{path} = :s{n}")
        else:
            update.conditions.append(f"attribute_not_exists({path})")
    return update


def learned(entries: dict[str, Entry]) -> Update:
    """id_map entries (value) with id_at (when learned), each only if learned later than what is recorded."""
    update = Update(("id_map", "id_at"))
    for n, (key, entry) in enumerate(entries.items()):
        update.names[f"#k{n}"] = key
        update.values |= {f":k{n}": {"S": entry.value}, f":t{n}": {"N": str(entry.at)}}
        update.sets += [f"id_map.#k{n} = :k{n}", f"id_at.#k{n} = :t{n}"]
        update.conditions.append(f"(attribute_not_exists(id_at.#k{n}) OR id_at.#k{n} < :t{n})")
    return update


def identity_of(item: dict[str, Any]) -> dict[str, Entry]:
    """id_map values with their id_at times; an entry from before times were kept counts as learned at 0."""
    times = item.get("id_at", {}).get("M", {})
    return {
        key: Entry(value["S"], int(times.get(key, {}).get("N", 0)))
        for key, value in item.get("id_map", {}).get("M", {}).items()
        if "S" in value
    }


def applied_of(item: dict[str, Any]) -> Applied:
    return Applied(
        applied_at={
            key: int(value["N"]) for key, value in item.get("applied_at", {}).get("M", {}).items() if "N" in value
        },
        waiting=int(item.get("waiting", {}).get("N", 0)),
        identity=identity_of(item),
        waiting_until=int(item.get("waiting_until", {}).get("N", 0)),
        queued_in=item.get("queued_in", {}).get("S", ""),
        linked=item.get("linked", {}).get("S", ""),
    )
