"""How a person is named: the keys every stage files them under, built here and nowhere else.

Two vocabularies, both kept as they were first written, because what is stored under them is hashed
(SQS message groups, person records, erasure tombstones, claims' person tags) and lives in retained
queues and tables:

- a person's *names*, what the events call them: `userId:<id>`, `anonymousId:<id>`, `email:<address>`;
  events sharing a name are one person, the most stable name is their message group and person record;
- the identity map's *subjects*, what Intercom knows them as: `user:<external_id>`, `email:<address>`
  (the same key as the name), `anonymous:<id>` for a visitor's lead.

An email is always lower-cased and stripped before it becomes a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

_NAMED_BY = ("userId", "anonymousId")
#: A name's prefix, most stable first: the primary name of a person.
_STABILITY = {"userId": 0, "anonymousId": 1, "email": 2}


def user_name(user_id: str) -> str:
    return f"userId:{user_id}"


def anonymous_name(anonymous_id: str) -> str:
    return f"anonymousId:{anonymous_id}"


def email_key(email: str) -> str:
    """An email as a name and as a subject (the two vocabularies share this key)."""
    return f"email:{email.strip().lower()}"


def is_email_key(key: str) -> bool:
    return key.startswith("email:")


def user_subject(external_id: str) -> str:
    return f"user:{external_id}"


def anonymous_subject(anonymous_id: str) -> str:
    return f"anonymous:{anonymous_id}"


def person_emails(event: dict[str, Any], with_properties: bool = False) -> list[str]:
    """The emails an event carries for its person, as email keys: context.traits', and traits' (not a
    group's: its traits.email is the company's); properties' too if asked. Blank ones are none."""
    context = event.get("context")
    sources = [context.get("traits") if isinstance(context, dict) else None]
    if event.get("type") != "group":
        sources.append(event.get("traits"))
    if with_properties:
        sources.append(event.get("properties"))
    emails = [source.get("email") for source in sources if isinstance(source, dict)]
    return [email_key(email) for email in emails if isinstance(email, str) and email.strip()]


def person_ids(event: dict[str, Any]) -> list[str]:
    """The ids an event names its person by, as a forget names them: its userId and every email it carries
    for the person (properties' too)."""
    ids = [user_name(event["userId"])] if event.get("userId") not in (None, "") else []
    ids += person_emails(event, with_properties=True)
    return list(dict.fromkeys(ids))


def person_names(event: dict[str, Any]) -> list[str]:
    """Every name an event knows its person by (an alias's previousId is the visitor it was): events sharing
    one are one person, within a request and, through the person records kept under each name, across
    requests."""
    names = [f"{name}:{event[name]}" for name in _NAMED_BY if event.get(name) not in (None, "")]
    if event.get("type") == "alias" and event.get("previousId") not in (None, ""):
        names.append(anonymous_name(event["previousId"]))
    return names + person_emails(event)


def primary_name(names: Iterable[str]) -> str:
    """The most stable of a person's names (userId, else anonymousId, else email): their FIFO message group
    and the person record their identifies and groups are written to."""
    return min(names, key=lambda name: (_STABILITY.get(name.partition(":")[0], 3), name))


def hashed(value: str) -> str:
    """How our callers' ids are stored (person records, tombstones, claims' person tags): never in clear."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def person_group(name: str) -> str:
    """A person's SQS message group id (and their person record's key): a hash of their primary name."""
    return hashlib.sha256(name.encode()).hexdigest()[:64]
