"""Identify Company (group by default): upsert the company by company_id, and the contact to attach to it."""

from __future__ import annotations

from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Group
from intercom_destination.mapping.fields import ActionKind, AnyCall, Field, attributes, identifier, trait
from intercom_destination.mapping.plans import CompanyBody, ContactRef, GroupPlan, Skip
from intercom_destination.mapping.values import integer, text, unix

#: Intercom stores monthly_spend as a 32-bit integer.
MAX_MONTHLY_SPEND = 2_147_483_647

_STANDARD_TRAITS = frozenset({
    "name", "plan", "monthly_spend", "monthlySpend", "employees", "size", "website", "industry",
    "remoteCreatedAt", "remote_created_at", "createdAt", "created_at",
})  # fmt: skip
#: Intercom's own company attributes: never writable as custom attributes.
RESERVED_COMPANY_ATTRIBUTES = frozenset({
    "id", "type", "company_id", "app_id", "name", "plan", "size", "website", "industry", "monthly_spend",
    "remote_created_at", "created_at", "updated_at", "last_request_at", "session_count", "user_count",
    "tags", "segments", "custom_attributes",
})  # fmt: skip
#: Standard company fields, in the order they are sent.
_BODY_FIELDS = ("name", "plan", "monthly_spend", "size", "website", "industry", "remote_created_at")


def _company_traits(call: AnyCall) -> dict[str, Any]:
    """A group's traits describe the company; other events carry none by default."""
    return call.traits if isinstance(call, Group) else {}


def _spend(value: Any) -> int | None:
    return integer(value, MAX_MONTHLY_SPEND)


FIELDS: dict[str, Field] = {
    "company_id": Field(
        lambda call, _: call.groupId if isinstance(call, Group) else None,
        identifier,
        True,
        description="`groupId`; never `.` or `..`",
    ),
    "name": trait(_company_traits, "name", description="`traits.name`"),
    "plan": trait(_company_traits, "plan", description="`traits.plan`"),
    "monthly_spend": trait(
        _company_traits,
        "monthly_spend",
        "monthlySpend",
        coerce=_spend,
        description="`traits.monthly_spend` / `monthlySpend`; an integer, truncated, at most 2,147,483,647",
    ),
    "size": trait(
        _company_traits, "employees", "size", coerce=integer, description="`traits.employees` (or `size`); an integer"
    ),
    "website": trait(_company_traits, "website", description="`traits.website`"),
    "industry": trait(_company_traits, "industry", description="`traits.industry`"),
    "remote_created_at": trait(
        _company_traits,
        "remoteCreatedAt",
        "remote_created_at",
        "createdAt",
        "created_at",
        coerce=unix,
        moment=True,
        description="`traits.remoteCreatedAt` / `remote_created_at`, else `createdAt` / `created_at`; unix seconds, never in the future",
    ),
    "custom_attributes": attributes(
        _company_traits,
        _STANDARD_TRAITS,
        RESERVED_COMPANY_ATTRIBUTES,
        "every other trait, flattened (docs/mapping.md's value rules); mapped: an object, flattened the same way",
    ),
    # The contact to attach. The user's email comes from context.traits: a group's traits.email is the company's.
    "user_id": Field(lambda call, _: call.userId, identifier, description="`userId`: the contact attached"),
    "email": Field(
        lambda call, _: text(call.context_traits.get("email")),
        text,
        description="`context.traits.email` (never `traits.email`, the company's): the contact attached, without a userId",
    ),
}


def build(values: dict[str, Any], lead_handling: LeadHandling) -> GroupPlan | Skip:
    if values["company_id"] is None:
        return Skip("Identify Company without a company_id")
    company: CompanyBody = {"company_id": values["company_id"]}
    company.update({name: values[name] for name in _BODY_FIELDS if values[name] is not None})  # type: ignore[typeddict-item]
    return GroupPlan(
        company=company,
        custom_attributes=values["custom_attributes"] or {},
        contact=ContactRef(external_id=values["user_id"], email=values["email"]),
    )


IDENTIFY_COMPANY = ActionKind(FIELDS, build)
