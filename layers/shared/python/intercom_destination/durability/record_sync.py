"""The person-record round trip that ingest and the redrive both make around a delivery: what the records
know, recalled into the warm identity map before it; the versions applied and what the map learned or
proved wrong, saved back after it. The warm map is only a cache of the records, never newer than them."""

from __future__ import annotations

from collections.abc import Sequence

from intercom_destination.delivery.identity import IdentityCache
from intercom_destination.durability.people import People
from intercom_destination.durability.records import Person, Remembered, Version


class RecordSync:
    def __init__(self, cache: IdentityCache, people: People) -> None:
        self._cache = cache
        self._people = people

    def recall(self, person: Person, keys: list[str]) -> None:
        """What the person's records know of these keys, into the warm map (unless learned here later)."""
        self._cache.recall(person.record.recalled(keys))

    def unlearn(self, keys: list[str]) -> None:
        """Drop what this function remembers of these keys (their person was forgotten meanwhile): the next
        event looks their contact up again instead of trusting, or skipping as unchanged, a deleted one."""
        self._cache.evict(*keys)

    def remembered(self, person: Person, versions: list[Version], keys: list[str]) -> Remembered:
        """The versions applied and what changed of these keys since the record was read: one update."""
        return person.remembered(versions, person.record.changes(self._cache.snapshot(keys)))

    def save(self, updates: Sequence[Remembered]) -> None:
        self._people.remember(updates)
