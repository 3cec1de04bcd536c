"""Identify Company (group by default): upsert the company by company_id, and the contact to attach to it."""

from __future__ import annotations

import hashlib
from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Group, Identify
from intercom_destination.mapping.fields import (
    ActionKind,
    AnyCall,
    Field,
    attributes,
    identifier,
    person_traits,
    tag_fields,
    trait,
)
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


def company_traits(call: AnyCall) -> dict[str, Any]:
    """A group's traits describe the company; an identify may carry one in `traits.company` (an object, or
    its name), as Segment's spec has it; other events carry none by default."""
    if isinstance(call, Group):
        return call.traits
    company = call.traits.get("company") if isinstance(call, Identify) else None
    if isinstance(company, str):
        return {"name": company}
    return company if isinstance(company, dict) else {}


def company_id_of(call: AnyCall) -> Any:
    """A group's `groupId`; an identify's company's `id`, else the MD5 of its name, as RudderStack's
    destination names it (so a workspace it filled keeps its companies)."""
    if isinstance(call, Group):
        return call.groupId
    company = company_traits(call)
    if (found := identifier(company.get("id"))) is not None:
        return found
    name = text(company.get("name"))
    return hashlib.md5(name.encode(), usedforsecurity=False).hexdigest() if name else None


def attached_email(call: AnyCall) -> str | None:
    """The contact to attach, without a userId: an identify's own email; a group's `context.traits.email`
    (never its `traits.email`, which is the company's)."""
    return (
        text(person_traits(call).get("email")) if isinstance(call, Identify) else text(call.context_traits.get("email"))
    )


def _spend(value: Any) -> int | None:
    return integer(value, MAX_MONTHLY_SPEND)


def pair_fields(verb: str) -> dict[str, Field]:
    """The company and the contact of an attach or a detach: `company_id`, `user_id`, `email`."""
    return {
        "company_id": Field(
            lambda call, _: company_id_of(call),
            identifier,
            True,
            description="`groupId` (an identify's: `traits.company.id`, else the MD5 of `traits.company.name`); never `.` or `..`",
        ),
        "user_id": Field(lambda call, _: call.userId, identifier, description=f"`userId`: the contact {verb}"),
        "email": Field(
            lambda call, _: attached_email(call),
            text,
            description=f"`context.traits.email` (never `traits.email`, the company's; an identify's own email): the contact {verb}, without a userId",
        ),
    }


_PAIR = pair_fields("attached")
FIELDS: dict[str, Field] = {
    "company_id": _PAIR["company_id"],
    "name": trait(company_traits, "name", description="`traits.name`"),
    "plan": trait(company_traits, "plan", description="`traits.plan`"),
    "monthly_spend": trait(
        company_traits,
        "monthly_spend",
        "monthlySpend",
        coerce=_spend,
        description="`traits.monthly_spend` / `monthlySpend`; an integer, truncated, at most 2,147,483,647",
    ),
    "size": trait(
        company_traits, "employees", "size", coerce=integer, description="`traits.employees` (or `size`); an integer"
    ),
    "website": trait(company_traits, "website", description="`traits.website`"),
    "industry": trait(company_traits, "industry", description="`traits.industry`"),
    "remote_created_at": trait(
        company_traits,
        "remoteCreatedAt",
        "remote_created_at",
        "createdAt",
        "created_at",
        coerce=unix,
        moment=True,
        description="`traits.remoteCreatedAt` / `remote_created_at`, else `createdAt` / `created_at`; unix seconds, never in the future",
    ),
    "custom_attributes": attributes(
        company_traits,
        _STANDARD_TRAITS,
        RESERVED_COMPANY_ATTRIBUTES,
        "every other trait, flattened (docs/mapping.md's value rules); mapped: an object, flattened the same way",
    ),
    **tag_fields(company_traits, "company"),
    # The contact to attach. The user's email comes from context.traits: a group's traits.email is the company's.
    "user_id": _PAIR["user_id"],
    "email": _PAIR["email"],
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
        tags=values["tags"] or (),
        untags=values["untags"] or (),
    )


IDENTIFY_COMPANY = ActionKind(FIELDS, build)
