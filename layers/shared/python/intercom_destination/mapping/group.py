"""group → Identify Company (upsert by company_id) and the contact to attach to it."""

from __future__ import annotations

from ..events import Group
from .identify import custom_attributes
from .plans import CompanyBody, ContactRef, GroupPlan
from .values import first, integer, text, unix

#: Intercom stores monthly_spend as a 32-bit integer.
MAX_MONTHLY_SPEND = 2_147_483_647

_STANDARD_TRAITS = frozenset({
    "name", "plan", "monthly_spend", "monthlySpend", "employees", "size", "website", "industry",
    "createdAt", "created_at",
})  # fmt: skip
#: Intercom's own company attributes: never writable as custom attributes.
RESERVED_COMPANY_ATTRIBUTES = frozenset({
    "id", "type", "company_id", "app_id", "name", "plan", "size", "website", "industry", "monthly_spend",
    "remote_created_at", "created_at", "updated_at", "last_request_at", "session_count", "user_count",
    "tags", "segments", "custom_attributes",
})  # fmt: skip


def map_group(call: Group) -> GroupPlan:
    traits = call.traits
    company: CompanyBody = {"company_id": call.groupId}
    if name := text(traits.get("name")):
        company["name"] = name
    if plan := text(traits.get("plan")):
        company["plan"] = plan
    if (spend := integer(first(traits, "monthly_spend", "monthlySpend"), MAX_MONTHLY_SPEND)) is not None:
        company["monthly_spend"] = spend
    if (size := integer(first(traits, "employees", "size"))) is not None:
        company["size"] = size
    if website := text(traits.get("website")):
        company["website"] = website
    if industry := text(traits.get("industry")):
        company["industry"] = industry
    if (created := unix(first(traits, "createdAt", "created_at"))) is not None:
        company["remote_created_at"] = created
    # The user's email comes from context.traits: traits.email belongs to the company.
    contact = ContactRef(external_id=call.userId, email=text(call.context_traits.get("email")))
    return GroupPlan(
        company=company,
        custom_attributes=custom_attributes(traits, _STANDARD_TRAITS | RESERVED_COMPANY_ATTRIBUTES),
        contact=contact,
    )
