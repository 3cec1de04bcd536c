"""Detach Company (an identify whose `traits.company` says `remove: true`, by default): the contact leaves
the company, as RudderStack's destination does it."""

from __future__ import annotations

from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.mapping.fields import ActionKind
from intercom_destination.mapping.group import pair_fields
from intercom_destination.mapping.plans import ContactRef, DetachPlan, Skip

FIELDS = pair_fields("detached")


def build(values: dict[str, Any], lead_handling: LeadHandling) -> DetachPlan | Skip:
    if values["company_id"] is None:
        return Skip("Detach Company without a company_id")
    contact = ContactRef(external_id=values["user_id"], email=None if values["user_id"] else values["email"])
    if not contact:
        return Skip("Detach Company without a userId or email: nobody to detach")
    return DetachPlan(values["company_id"], contact)


DETACH_COMPANY = ActionKind(FIELDS, build)
