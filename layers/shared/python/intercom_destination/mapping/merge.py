"""Merge Lead (alias by default): the visitor's lead, if we made one, joins the user."""

from __future__ import annotations

from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Alias
from intercom_destination.mapping.fields import ActionKind, Field, identifier, person_traits
from intercom_destination.mapping.plans import ContactRef, MergePlan, Skip
from intercom_destination.mapping.values import text

FIELDS: dict[str, Field] = {
    "user_id": Field(lambda call, _: call.userId, identifier, True, description="`userId`: the user merged into"),
    "anonymous_id": Field(
        lambda call, _: call.previousId if isinstance(call, Alias) else call.anonymousId,
        identifier,
        description="`previousId` (an alias names the visitor there), else `anonymousId`: the visitor",
    ),
    "email": Field(
        lambda call, _: text(person_traits(call).get("email")),
        text,
        description="`context.traits.email`: also the lead we made for that email",
    ),
}


def build(values: dict[str, Any], lead_handling: LeadHandling) -> MergePlan | Skip:
    if values["user_id"] is None:
        return Skip("Merge Lead without a user_id: there is no user to merge into")
    if values["anonymous_id"] is None and values["email"] is None:
        return Skip("Merge Lead without an anonymous_id or email: no visitor to look for")
    return MergePlan(ContactRef(external_id=values["user_id"]), values["anonymous_id"], values["email"])


MERGE_LEAD = ActionKind(FIELDS, build)
