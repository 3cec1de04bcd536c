"""The identity map: what we know of a person's Intercom objects, so a repeat call costs no lookup and an
unchanged one no write at all.

Keys (our callers' ids; hashed wherever they are stored):
- `user:<external_id>`, `email:<email>` → the Intercom contact id (person.py builds the subjects);
- `company:<company_id>` → the Intercom company id (attaching needs it);
- `written:<subject>` → `<fingerprint>@<unix s>`: the body last written to that contact (`user:…`, `email:…`)
  or company (`group:…`), without `last_seen_at`, and when. An identical body within the write window
  is not written again: last_seen_at moves at most once per window, and a body changed by anyone else
  (an agent in Intercom, a concurrent write) is rewritten by the next call after the window;
- `attached:<contact subject>:<company_id>` → `<contact id>><company id>` of the attach made (Intercom
  keeps it until detached; a contact or company re-created under new ids is attached again).

Warm in memory (bounded, least recently used first out, with a time to live) in front of the person
record in DynamoDB (people.py), which carries the map to new functions and the redrive. Every entry carries
when it was learned; at the start of each request the record's entry wins unless this function learned the
key later, and the record keeps the later learned of two concurrent writers. An entry proven wrong
(Intercom answers 404) is evicted as a tombstone, so the record, and other functions through it, forget it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from intercom_destination.mapping.plans import (
    ContactRef,
    DetachPlan,
    GroupPlan,
    IdentifyPlan,
    MergePlan,
    Plan,
    TrackPlan,
)
from intercom_destination.person import email_key, user_subject

#: Entries kept in memory per function (a few hundred bytes each).
MAX_ENTRIES = 50_000
_TOMBSTONE = ""


def contact_subject(ref: ContactRef) -> str | None:
    if ref.external_id:
        return user_subject(ref.external_id)
    return email_key(ref.email) if ref.email else None


def contact_keys(ref: ContactRef) -> list[str]:
    keys = [user_subject(ref.external_id)] if ref.external_id else []
    return keys + ([email_key(ref.email)] if ref.email else [])


def keys_of(plan: Plan) -> list[str]:
    """Every key a plan's delivery may read, learn or prove wrong: what to recall from the person record,
    and to save back (a track's 404 forgets what was written to its contact, for one)."""
    if isinstance(plan, MergePlan):
        return contact_keys(plan.user)
    if isinstance(plan, DetachPlan):
        subject = contact_subject(plan.contact)
        return [*contact_keys(plan.contact), f"company:{plan.company_id}", f"attached:{subject}:{plan.company_id}"]
    if not isinstance(plan, IdentifyPlan | GroupPlan | TrackPlan):
        return []
    subject = contact_subject(plan.contact)
    keys = contact_keys(plan.contact) + ([f"written:{subject}"] if subject else [])
    if isinstance(plan, GroupPlan):
        company_id = plan.company["company_id"]
        keys += [f"company:{company_id}", f"written:group:{company_id}"]
        keys += [f"attached:{subject}:{company_id}"] if subject else []
        keys += [f"tagged:group:{company_id}:{name.casefold()}" for name in (*plan.tags, *plan.untags)]
    elif isinstance(plan, IdentifyPlan) and subject:
        keys += [f"tagged:{subject}:{name.casefold()}" for name in (*plan.tags, *plan.untags)]
    return keys


def fingerprint(body: Mapping[str, Any]) -> str:
    """Of everything but last_seen_at, which moves on every page view and is coalesced per window instead."""
    stable = {key: value for key, value in body.items() if key != "last_seen_at"}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class Entry(NamedTuple):
    """What is known of one key, and when it was learned (unix ms, by the clock of the function that learned
    it): of two instances' knowledge, the later learned wins. An empty value was proven wrong (a tombstone)."""

    value: str
    at: int


class IdentityCache:
    """Key → Entry for `ttl` seconds, at most `max_entries`, shared by the delivery threads: a cache of the
    person records, never a newer truth than them. `evict` leaves a tombstone (read as unknown), so what was
    proven wrong is also proven wrong in the person record, and in other functions' memory through it."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Entry]] = OrderedDict()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._fresh(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.value or None

    def put(self, value: str, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._set(key, Entry(value, self._now_ms()))

    def evict(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._set(key, Entry(_TOMBSTONE, self._now_ms()))

    def recall(self, entries: Mapping[str, Entry]) -> None:
        """Seed from the person record, read at the start of a request: its entry wins over what this
        function remembers unless this function learned that key later (another instance may have written
        the contact, re-created it or attached it meanwhile)."""
        with self._lock:
            for key, entry in entries.items():
                known = self._fresh(key)
                if known is None or entry.at > known.at:
                    self._set(key, entry)

    def snapshot(self, keys: Iterable[str]) -> dict[str, Entry]:
        """What is known now of `keys` (tombstones included); unknown keys are left out."""
        with self._lock:
            return {key: entry for key in keys if (entry := self._fresh(key)) is not None}

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def _fresh(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self._ttl:
            del self._entries[key]
            return None
        return entry[1]

    def _set(self, key: str, entry: Entry) -> None:
        self._entries[key] = (self._clock(), entry)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
