"""A request's events grouped per person (by every name they go by), each person's in request order."""

from __future__ import annotations

from dataclasses import dataclass

from intercom_destination.ingest.work import Work
from intercom_destination.person import person_group, person_names, primary_name


@dataclass
class Lane:
    """One person's events of a request, in request order, and every name they go by in it."""

    name: str  # the most stable of `names` (person.primary_name)
    names: list[str]
    works: list[Work]

    @property
    def key(self) -> str:
        """Its primary name's record key (and message group, unless it is linked or waits elsewhere)."""
        return person_group(self.name)

    @property
    def keys(self) -> list[str]:
        return [person_group(name) for name in self.names]


def person_queues(prepared: list[Work]) -> list[Lane]:
    """Events that share a userId, anonymousId or email belong to one person, kept in request order (a
    visitor's lead identify, then their signup); different people are handled concurrently."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    names_of = []
    for work in prepared:
        names = person_names(work.event) or [f"event:{work.key}"]
        for name in names[1:]:
            parent[root(name)] = root(names[0])
        names_of.append(names)
    people: dict[str, tuple[list[Work], dict[str, None]]] = {}
    for work, names in zip(prepared, names_of, strict=True):
        works, known = people.setdefault(root(names[0]), ([], {}))
        works.append(work)
        known.update(dict.fromkeys(names))
    return [Lane(primary_name(known), list(known), works) for works, known in people.values()]
