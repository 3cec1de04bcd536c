"""The sandbox's Intercom workspace: contacts, companies, attachments, events and data attributes.

Behaviour follows docs/intercom-api.md (the spec plus what Intercom is seen to do): 409 with the existing
id on a duplicate create, search that lags creation, merged contacts answering 410, attach by Intercom
ids, events answering 202 and de-duplicated on (contact, name, created_at), only the first 10 metadata
keys kept, and 400 for a custom attribute the workspace does not define.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Intercom keeps only the first 10 metadata keys of an event.
MAX_METADATA_KEYS = 10
_ATTRIBUTE_NAME = re.compile(r"^[^.\[\]{}\"'\\/]{1,190}$")
_DATA_TYPES = {"string", "integer", "float", "boolean", "date", "datetime"}
_CONTACT_FIELDS = (
    "role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at",
    "owner_id", "unsubscribed_from_emails",
)  # fmt: skip
_COMPANY_FIELDS = (
    "company_id", "name", "plan", "size", "website", "industry", "remote_created_at", "monthly_spend",
)  # fmt: skip
_COMPANY_KEYS = {*_COMPANY_FIELDS, "custom_attributes", "update_last_request_at"}
#: Intercom's built-in attributes, listed by GET /data_attributes with custom=false.
_STANDARD_ATTRIBUTES = {
    "contact": ("email", "name", "phone", "external_id", "signed_up_at", "last_seen_at", "owner_id"),
    "company": ("company_id", "name", "plan", "size", "website", "industry", "monthly_spend"),
}


class ApiError(Exception):
    """An Intercom error response: status, code and message in Intercom's `error.list` shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _new_id() -> str:
    return secrets.token_hex(12)  # 24 hex characters, like Intercom's ids


@dataclass
class Contact:
    id: str
    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    created_at: int
    updated_at: int
    searchable_at: float  # the search index catches up with a create after the configured lag
    companies: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # tag ids
    merged_into: str | None = None

    @property
    def role(self) -> str:
        return str(self.fields.get("role") or "user")

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "contact",
            "id": self.id,
            "workspace_id": "sandbox",
            "external_id": self.fields.get("external_id"),
            "role": self.role,
            "email": self.fields.get("email"),
            "phone": self.fields.get("phone"),
            "name": self.fields.get("name"),
            "avatar": self.fields.get("avatar"),
            "owner_id": self.fields.get("owner_id"),
            "unsubscribed_from_emails": bool(self.fields.get("unsubscribed_from_emails", False)),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "signed_up_at": self.fields.get("signed_up_at"),
            "last_seen_at": self.fields.get("last_seen_at"),
            "custom_attributes": dict(self.custom_attributes),
            "companies": {
                "type": "list",
                "data": [{"type": "company", "id": company} for company in self.companies],
                "url": f"/contacts/{self.id}/companies",
                "total_count": len(self.companies),
                "has_more": False,
            },
            "tags": {
                "type": "list",
                "data": [{"type": "tag", "id": tag} for tag in self.tags],
                "url": f"/contacts/{self.id}/tags",
                "total_count": len(self.tags),
                "has_more": False,
            },
        }


@dataclass
class Company:
    id: str
    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    created_at: int
    updated_at: int
    tags: list[dict[str, str]] = field(default_factory=list)  # {"type": "tag", "id", "name"}

    def as_json(self, user_count: int) -> dict[str, Any]:
        plan = self.fields.get("plan")
        return {
            "type": "company",
            "id": self.id,
            "app_id": "sandbox",
            **{key: self.fields.get(key) for key in _COMPANY_FIELDS if key != "plan"},
            "plan": {"type": "plan", "id": plan, "name": plan} if plan else {},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "user_count": user_count,
            "session_count": 0,
            "custom_attributes": dict(self.custom_attributes),
            "tags": {"type": "tag.list", "tags": [dict(tag) for tag in self.tags]},
            "segments": {"type": "segment.list", "segments": []},
        }


class Workspace:
    """Not thread-safe on its own: the server serializes calls with one lock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.search_lag = 0.0
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, Company] = {}  # by Intercom id
        self.events: list[dict[str, Any]] = []
        self.attributes: dict[str, dict[str, dict[str, Any]]] = {"contact": {}, "company": {}}
        self.tags: dict[str, str] = {}  # id → name
        self._event_keys: set[tuple[str, str, int]] = set()
        self._by_field = _ContactIndex()  # live contacts by external_id and email: lookups stay O(1)

    # --- contacts -------------------------------------------------------------------------------
    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        custom = self._checked_attributes("contact", body.get("custom_attributes"))
        if not any(body.get(key) for key in ("email", "external_id", "role")):
            raise ApiError(400, "parameter_invalid", "Requires one of email, external_id or role")
        role = body.get("role") or "user"
        if existing := self._duplicate(body.get("external_id"), body.get("email") if role == "user" else None):
            raise ApiError(409, "conflict", f"A contact matching those details already exists with id={existing.id}")
        now = int(self.clock())
        contact = Contact(
            id=_new_id(),
            fields={key: body[key] for key in _CONTACT_FIELDS if body.get(key) is not None} | {"role": role},
            custom_attributes=custom,
            created_at=now,
            updated_at=now,
            searchable_at=self.clock() + self.search_lag,
        )
        self.contacts[contact.id] = contact
        self._by_field.add(contact)
        return contact.as_json()

    def update_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        contact = self._contact(contact_id)
        custom = self._checked_attributes("contact", body.get("custom_attributes"))
        other = self._duplicate(body.get("external_id"), None)
        if other is not None and other.id != contact.id:
            raise ApiError(409, "conflict", f"A contact matching those details already exists with id={other.id}")
        self._by_field.remove(contact)
        contact.fields.update({key: body[key] for key in _CONTACT_FIELDS if key in body})
        self._by_field.add(contact)
        contact.custom_attributes.update(custom)
        contact.updated_at = int(self.clock())
        return contact.as_json()

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self._contact(contact_id).as_json()

    def delete_contact(self, contact_id: str) -> dict[str, Any]:
        """Gone for good, with its data events; a merged-away id answers 410 like the other reads."""
        contact = self._contact(contact_id)
        del self.contacts[contact_id]
        self._by_field.remove(contact)
        self.events = [event for event in self.events if event["contact_id"] != contact_id]
        return {"type": "contact", "id": contact.id, "external_id": contact.fields.get("external_id"), "deleted": True}

    def find_by_external_id(self, external_id: str) -> dict[str, Any]:
        for contact in self._live_with("external_id", external_id):
            if contact.role == "user":
                return contact.as_json()
        raise ApiError(404, "not_found", "User Not Found")

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        matches = [c for c in self._live() if c.searchable_at <= now and _matches(c, body["query"])]
        matches.sort(key=lambda contact: contact.created_at, reverse=True)
        per_page = int((body.get("pagination") or {}).get("per_page") or 50)
        page = matches[:per_page]
        return {
            "type": "list",
            "data": [contact.as_json() for contact in page],
            "total_count": len(matches),
            "pages": {
                "type": "pages",
                "page": 1,
                "per_page": per_page,
                "total_pages": max(1, -(-len(matches) // per_page)),
            },
        }

    def merge(self, body: dict[str, Any]) -> dict[str, Any]:
        lead, user = self._contact(str(body.get("from"))), self._contact(str(body.get("into")))
        if lead.role != "lead" or user.role != "user":
            raise ApiError(400, "invalid_merge", "Contacts can only be merged from a lead into a user")
        shared = any(
            lead.fields.get(key) and lead.fields.get(key) == user.fields.get(key) for key in ("email", "phone")
        )
        if not shared and not body.get("skip_duplicate_validation"):
            raise ApiError(
                400,
                "invalid_merge",
                "Contacts can only be merged when they are duplicates (matching email or phone). "
                "Pass skip_duplicate_validation=true to override this check.",
            )
        for key, value in lead.custom_attributes.items():
            user.custom_attributes.setdefault(key, value)
        user.companies.extend(company for company in lead.companies if company not in user.companies)
        for event in self.events:
            if event["contact_id"] == lead.id:
                event["contact_id"] = user.id
        lead.merged_into = user.id
        self._by_field.remove(lead)
        return user.as_json()

    def contact_companies(self, contact_id: str) -> dict[str, Any]:
        contact = self._contact(contact_id)
        data = [self.companies[company].as_json(self._user_count(company)) for company in contact.companies]
        return {"type": "list", "data": data, "total_count": len(data)}

    # --- companies ------------------------------------------------------------------------------
    def upsert_company(self, body: dict[str, Any]) -> dict[str, Any]:
        if unknown := sorted(set(body) - _COMPANY_KEYS):
            raise ApiError(400, "bad_request", f"bad '{unknown[0]}' parameter")
        custom = self._checked_attributes("company", body.get("custom_attributes"))
        now = int(self.clock())
        company = self._company_by_company_id(body.get("company_id"))
        if company is None:
            company = Company(id=_new_id(), fields={}, custom_attributes={}, created_at=now, updated_at=now)
            self.companies[company.id] = company
        company.fields.update({key: body[key] for key in _COMPANY_FIELDS if body.get(key) is not None})
        company.custom_attributes.update(custom)
        company.updated_at = now
        return company.as_json(self._user_count(company.id))

    def attach(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        company_id = body.get("id")
        if not company_id:
            raise ApiError(400, "parameter_not_found", "company not specified")
        contact = self._contact(contact_id)
        if company_id not in self.companies:
            raise ApiError(404, "company_not_found", "Company Not Found")
        if company_id not in contact.companies:
            contact.companies.append(company_id)
        return self.companies[company_id].as_json(self._user_count(company_id))

    def detach(self, contact_id: str, company_id: str) -> dict[str, Any]:
        """As Intercom answers: 404 `not_found` for a contact it has not, `company_not_found` for a company it
        has not or the contact is not attached to."""
        contact = self._contact(contact_id)
        if company_id not in self.companies or company_id not in contact.companies:
            raise ApiError(404, "company_not_found", "Company Not Found")
        contact.companies.remove(company_id)
        return self.companies[company_id].as_json(self._user_count(company_id))

    def list_companies(self, company_id: str | None) -> dict[str, Any]:
        if company_id is not None:
            company = self._company_by_company_id(company_id)
            if company is None:
                raise ApiError(404, "company_not_found", "Company Not Found")
            return company.as_json(self._user_count(company.id))
        data = [company.as_json(self._user_count(company.id)) for company in self.companies.values()]
        return {"type": "list", "data": data, "total_count": len(data)}

    # --- tags -----------------------------------------------------------------------------------
    def list_tags(self) -> dict[str, Any]:
        return {"type": "list", "data": [self._tag(tag_id) for tag_id in self.tags]}

    def post_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a tag (names are case-insensitive), or tag / untag companies by id or company_id."""
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "parameter_invalid", "invalid tag parameters")
        tag_id = self._tag_named(name)
        if tag_id is None:
            tag_id = str(len(self.tags) + 100)
            self.tags[tag_id] = name
        tag = self._tag(tag_id)
        for ref in body.get("companies") or []:
            by_id = ref.get("id")
            company = self.companies.get(by_id) if by_id else self._company_by_company_id(ref.get("company_id"))
            if company is None:
                raise ApiError(404, "company_not_found", "Company Not Found")
            company.tags = [t for t in company.tags if t["id"] != tag_id]
            if not ref.get("untag"):
                company.tags.append(tag)
        return tag

    def contact_tags(self, contact_id: str) -> dict[str, Any]:
        return {"type": "list", "data": [self._tag(tag_id) for tag_id in self._contact(contact_id).tags]}

    def tag_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        contact = self._contact(contact_id)
        tag_id = str(body.get("id") or "")
        if tag_id not in self.tags:
            raise ApiError(404, "tag_not_found", "Tag not found")
        if tag_id not in contact.tags:
            contact.tags.append(tag_id)
        return self._tag(tag_id)

    def untag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        contact = self._contact(contact_id)
        if tag_id not in self.tags:
            raise ApiError(404, "tag_not_found", "Tag not found")
        if tag_id in contact.tags:
            contact.tags.remove(tag_id)
        return self._tag(tag_id)

    def _tag_named(self, name: str) -> str | None:
        return next((tag_id for tag_id, known in self.tags.items() if known.casefold() == name.casefold()), None)

    def _tag(self, tag_id: str) -> dict[str, str]:
        return {"type": "tag", "id": tag_id, "name": self.tags[tag_id]}

    # --- events ---------------------------------------------------------------------------------
    def submit_event(self, body: dict[str, Any]) -> None:
        contact = self._event_contact(body)
        key = (contact.id, str(body["event_name"]).lower(), int(body["created_at"]))
        if key in self._event_keys:
            return  # a repeat: still 202, stored once
        self._event_keys.add(key)
        metadata = dict(list((body.get("metadata") or {}).items())[:MAX_METADATA_KEYS])
        self.events.append({
            "event_name": body["event_name"],
            "created_at": int(body["created_at"]),
            "contact_id": contact.id,
            "user_id": contact.fields.get("external_id"),
            "email": contact.fields.get("email"),
            "metadata": metadata,
        })  # fmt: skip

    def _event_contact(self, body: dict[str, Any]) -> Contact:
        if body.get("id"):
            return self._contact(str(body["id"]), not_found=("not_found", "User Not Found"))
        if body.get("user_id"):
            found = [c for c in self._live_with("external_id", body["user_id"]) if c.role == "user"]
        else:
            found = [c for c in self._live_with("email", body.get("email")) if c.role == "user"]
            if len(found) > 1:
                raise ApiError(
                    409,
                    "conflict",
                    "Multiple existing users match this email address - must be more specific using user_id",
                )
        if not found:
            raise ApiError(404, "not_found", "User Not Found")
        return found[0]

    # --- data attributes ------------------------------------------------------------------------
    def list_attributes(self, model: str | None) -> dict[str, Any]:
        models = [model] if model else ["contact", "company"]
        data: list[dict[str, Any]] = []
        for name in models:
            data += [_standard_attribute(name, attr) for attr in _STANDARD_ATTRIBUTES[name]]
            data += list(self.attributes[name].values())
        return {"type": "list", "data": data}

    def create_attribute(self, body: dict[str, Any]) -> dict[str, Any]:
        model, name, data_type = body.get("model"), str(body.get("name") or ""), body.get("data_type")
        if model not in self.attributes:
            raise ApiError(400, "parameter_invalid", "The Data Attribute model field must be either contact or company")
        if data_type not in _DATA_TYPES:
            raise ApiError(400, "parameter_invalid", "Data Type isn't an option")
        if not _ATTRIBUTE_NAME.match(name):
            raise ApiError(
                400,
                "parameter_invalid",
                "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens",
            )
        if name in self.attributes[model] or name in _STANDARD_ATTRIBUTES[model]:
            raise ApiError(
                400,
                "parameter_invalid",
                f"You already have '{name}' in your {model} data. To save this as new {model} data, use a different name.",
            )
        attribute = {
            "type": "data_attribute",
            "id": sum(len(attrs) for attrs in self.attributes.values()) + 1,
            "model": model,
            "name": name,
            "full_name": f"custom_attributes.{name}",
            "label": name,
            "data_type": data_type,
            "api_writable": True,
            "messenger_writable": body.get("messenger_writable") is True,  # Intercom's default since 2.11: false
            "custom": True,
            "archived": False,
        }
        self.attributes[model][name] = attribute
        return attribute

    # --- helpers --------------------------------------------------------------------------------
    def _checked_attributes(self, model: str, values: Any) -> dict[str, Any]:
        values = values or {}
        for name in values:
            if name not in self.attributes[model]:
                raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' does not exist")
        return dict(values)

    def _live(self) -> list[Contact]:
        return [contact for contact in self.contacts.values() if contact.merged_into is None]

    def _duplicate(self, external_id: Any, user_email: Any) -> Contact | None:
        """The first live contact (in creation order) with this external_id, or a user with this email."""
        candidates = self._live_with("external_id", external_id) if external_id else []
        if user_email:
            candidates += [c for c in self._live_with("email", user_email) if c.role == "user"]
        return min(candidates, key=self._by_field.order, default=None)

    def _live_with(self, name: str, value: Any) -> list[Contact]:
        """Live contacts whose field `name` is `value`, in creation order."""
        return [self.contacts[contact_id] for contact_id in self._by_field.ids(name, value)]

    def _contact(self, contact_id: str, not_found: tuple[str, str] = ("not_found", "User Not Found")) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise ApiError(404, *not_found)
        if contact.merged_into is not None:
            raise ApiError(
                410,
                "contact_merged",
                "This contact has been merged. See the 'Link' header for the canonical contact.",
                {"Link": f'</contacts/{contact.merged_into}>; rel="canonical"'},
            )
        return contact

    def _company_by_company_id(self, company_id: Any) -> Company | None:
        return next((c for c in self.companies.values() if c.fields.get("company_id") == company_id), None)

    def _user_count(self, company_id: str) -> int:
        return sum(company_id in contact.companies for contact in self._live())

    def snapshot(self) -> dict[str, Any]:
        """Everything that arrived, for tests and for a person looking at `make dev`."""
        return {
            "contacts": [contact.as_json() for contact in self._live()],
            "companies": [company.as_json(self._user_count(company.id)) for company in self.companies.values()],
            "events": list(self.events),
            "data_attributes": {model: sorted(attrs) for model, attrs in self.attributes.items()},
            "tags": [self._tag(tag_id) for tag_id in self.tags],
        }


def _standard_attribute(model: str, name: str) -> dict[str, Any]:
    return {
        "type": "data_attribute",
        "model": model,
        "name": name,
        "full_name": name,
        "label": name,
        "data_type": "string",
        "api_writable": True,
        "custom": False,
        "archived": False,
    }


def _matches(contact: Contact, query: dict[str, Any]) -> bool:
    """The subset of Intercom's search language the destination and people use: AND/OR groups and
    `=`, `!=`, `IN`, `NIN`, `~`, `^`, `$` on top-level string fields and custom attributes."""
    operator = query.get("operator")
    if operator in ("AND", "OR"):
        results = (_matches(contact, part) for part in query.get("value") or [])
        return all(results) if operator == "AND" else any(results)
    name = str(query.get("field"))
    if name.startswith("custom_attributes."):
        actual = contact.custom_attributes.get(name.removeprefix("custom_attributes."))
    elif name == "id":
        actual = contact.id
    else:
        actual = contact.role if name == "role" else contact.fields.get(name)
    expected = query.get("value")
    match operator:
        case "=":
            return bool(actual == expected)
        case "!=":
            return bool(actual != expected)
        case "IN":
            return actual in (expected or [])
        case "NIN":
            return actual not in (expected or [])
        case "~":
            return isinstance(actual, str) and str(expected) in actual
        case "^":
            return isinstance(actual, str) and actual.startswith(str(expected))
        case "$":
            return isinstance(actual, str) and actual.endswith(str(expected))
    raise ApiError(400, "invalid_query", f"Operator '{operator}' is not supported by the sandbox")


class _ContactIndex:
    """Live contacts by external_id and by email, kept as contacts are created, updated, merged away and
    deleted (a scan of every contact per call made a backfill of 10,000 people quadratic)."""

    FIELDS = ("external_id", "email")

    def __init__(self) -> None:
        self._ids: dict[tuple[str, Any], dict[str, None]] = {}  # (field, value) → ids, in creation order
        self._order: dict[str, int] = {}

    def add(self, contact: Contact) -> None:
        self._order.setdefault(contact.id, len(self._order))
        for name in self.FIELDS:
            if (value := contact.fields.get(name)) is not None and _hashable(value):
                self._ids.setdefault((name, value), {})[contact.id] = None

    def remove(self, contact: Contact) -> None:
        for name in self.FIELDS:
            if (value := contact.fields.get(name)) is not None and _hashable(value):
                self._ids.get((name, value), {}).pop(contact.id, None)

    def ids(self, name: str, value: Any) -> list[str]:
        if value is None or not _hashable(value):
            return []
        return sorted(self._ids.get((name, value), {}), key=self.order)

    def order(self, contact: Contact | str) -> int:
        return self._order[contact if isinstance(contact, str) else contact.id]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
