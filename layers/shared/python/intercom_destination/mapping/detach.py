"""Detach Company (an identify whose `traits.company` says `remove: true`, by default): the contact leaves
the company, as RudderStack's destination does it."""

from __future__ import annotations

from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.mapping.fields import ActionKind, Field, identifier
from intercom_destination.mapping.group import attached_email, company_id_of
from intercom_destination.mapping.plans import ContactRef, DetachPlan, Skip
from intercom_destination.mapping.values import text

FIELDS: dict[str, Field] = {
    "company_id": Field(
        lambda call, _: company_id_of(call),
        identifier,
        True,
        description="`traits.company.id`, else the MD5 of `traits.company.name` (a group's: `groupId`); never `.` or `..`",
    ),
    "user_id": Field(lambda call, _: call.userId, identifier, description="`userId`: the contact detached"),
    "email": Field(
        lambda call, _: attached_email(call),
        text,
        description="the identify's own email (a group's `context.traits.email`): the contact detached, without a userId",
    ),
}


def build(values: dict[str, Any], lead_handling: LeadHandling) -> DetachPlan | Skip:
    if values["company_id"] is None:
        return Skip("Detach Company without a company_id")
    contact = ContactRef(external_id=values["user_id"], email=None if values["user_id"] else values["email"])
    if not contact:
        return Skip("Detach Company without a userId or email: nobody to detach")
    return DetachPlan(values["company_id"], contact)


DETACH_COMPANY = ActionKind(FIELDS, build)
