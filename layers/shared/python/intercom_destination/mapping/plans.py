"""Typed shapes of what the mapping produces: Intercom request bodies plus how to find the contact."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, NotRequired, TypedDict

Scalar = str | int | float | bool


class ContactBody(TypedDict, total=False):
    """POST /contacts and PUT /contacts/{id} (create_contact_request / update_contact_request)."""

    role: Literal["user", "lead"]
    external_id: str
    email: str
    phone: str
    name: str
    avatar: str
    signed_up_at: int
    last_seen_at: int
    owner_id: str
    unsubscribed_from_emails: bool
    custom_attributes: dict[str, Scalar]


class CompanyBody(TypedDict, total=False):
    """POST /companies (create_or_update_company_request)."""

    company_id: str
    name: str
    plan: str
    monthly_spend: int
    size: int
    website: str
    industry: str
    remote_created_at: int
    custom_attributes: dict[str, Scalar]


class Price(TypedDict):
    amount: int  # minor units (cents)
    currency: str


class RichLink(TypedDict):
    url: str
    value: str


MetadataValue = Scalar | Price | RichLink


class EventBody(TypedDict):
    """POST /events (create_data_event_request) without the contact, which delivery resolves."""

    event_name: str
    created_at: int
    metadata: NotRequired[dict[str, MetadataValue]]


@dataclass(frozen=True)
class ContactRef:
    """How to find the Intercom contact of a call: by userId (external_id) first, else by email."""

    external_id: str | None = None
    email: str | None = None

    def __bool__(self) -> bool:
        return bool(self.external_id or self.email)


@dataclass(frozen=True)
class IdentifyPlan:
    contact: ContactRef
    role: Literal["user", "lead"]
    body: ContactBody  # standard fields, without role/external_id/custom_attributes
    custom_attributes: dict[str, Scalar] = field(default_factory=dict)
    anonymous_id: str | None = (
        None  # the visitor: a lead we made for it joins this user, a lead made now is kept under it
    )
    email_on_create_only: bool = False  # a browser key's: the email of a user who exists is left as it is
    tags: tuple[str, ...] = ()  # applied to the contact (tags only add)
    untags: tuple[str, ...] = ()  # taken off it


@dataclass(frozen=True)
class GroupPlan:
    company: CompanyBody  # without custom_attributes
    custom_attributes: dict[str, Scalar] = field(default_factory=dict)
    contact: ContactRef = ContactRef()  # empty: upsert the company, attach nobody
    tags: tuple[str, ...] = ()  # applied to the company (tags only add)
    untags: tuple[str, ...] = ()  # taken off it


@dataclass(frozen=True)
class DetachPlan:
    """Detach Company: the contact leaves the company (its `company_id`, ours; Intercom's id is found)."""

    company_id: str
    contact: ContactRef


@dataclass(frozen=True)
class TrackPlan:
    contact: ContactRef
    event: EventBody


@dataclass(frozen=True)
class MergePlan:
    """Merge Lead (alias): the lead we made for a visitor (by anonymousId, or an email seen with it) joins
    the user, who is created first if Intercom has none. Nothing known for the visitor: nothing sent."""

    user: ContactRef  # by external_id
    anonymous_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Skip:
    """The call needs no Intercom request in cloud mode; `reason` is logged and counted."""

    reason: str


Plan = IdentifyPlan | GroupPlan | DetachPlan | TrackPlan | MergePlan | Skip


def scoped(plan: Plan, browser: bool) -> Plan:
    """The plan as a browser key may carry it out: a key in a web page is public, so its identify can create
    a user with an email but never change the email of a user who exists (which would hand over their
    contact, and their conversations, to whoever holds the new address)."""
    if browser and isinstance(plan, IdentifyPlan):
        return replace(plan, email_on_create_only=True)
    return plan
