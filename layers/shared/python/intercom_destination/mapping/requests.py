"""The Intercom requests a plan makes, as the deliverer sends them (their bodies are built here for both),
and as `POST /v1/preview` shows them: the path of a contact and company seen for the first time, with
`{placeholders}` for the ids Intercom assigns. No call is made."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from intercom_destination.mapping.plans import (
    CompanyBody,
    ContactBody,
    DetachPlan,
    GroupPlan,
    IdentifyPlan,
    MergePlan,
    Plan,
    Scalar,
    Skip,
    TrackPlan,
)

_ATTRIBUTES_NOTE = "custom attributes the workspace lacks are created first or dropped (CUSTOM_ATTRIBUTE_POLICY)"


class PlannedRequest(TypedDict):
    method: str
    path: str
    body: dict[str, Any]
    note: NotRequired[str]


def contact_body(plan: IdentifyPlan, attributes: dict[str, Scalar]) -> ContactBody:
    """The body of the contact's update (its create adds the role)."""
    body: ContactBody = {**plan.body}
    if attributes:
        body["custom_attributes"] = attributes
    if plan.contact.external_id is not None:
        body["external_id"] = plan.contact.external_id
    return body


def company_body(plan: GroupPlan, attributes: dict[str, Scalar]) -> CompanyBody:
    return {**plan.company, "custom_attributes": attributes} if attributes else plan.company


def requests_of(plan: Plan) -> list[PlannedRequest]:
    match plan:
        case IdentifyPlan():
            return _identify(plan)
        case GroupPlan():
            return _group(plan)
        case DetachPlan():
            return _detach(plan)
        case TrackPlan():
            return [_track(plan)]
        case MergePlan():
            return [_merge(plan)]
        case Skip():
            return []


def _contact_tags(plan: IdentifyPlan) -> list[PlannedRequest]:
    tag: list[PlannedRequest] = [
        {
            "method": "POST",
            "path": "/contacts/{contact id}/tags",
            "body": {"id": f"{{id of tag {name}}}"},
            "note": "unless applied before; the tag is created first (POST /tags) if the workspace lacks it",
        }
        for name in plan.tags
    ]
    untag: list[PlannedRequest] = [
        {
            "method": "DELETE",
            "path": f"/contacts/{{contact id}}/tags/{{id of tag {name}}}",
            "body": {},
            "note": "if the workspace has the tag",
        }
        for name in plan.untags
    ]
    return tag + untag


def _company_tags(plan: GroupPlan) -> list[PlannedRequest]:
    company_id = plan.company["company_id"]
    return [
        {
            "method": "POST",
            "path": "/tags",
            "body": {"name": name, "companies": [{"company_id": company_id, **({"untag": True} if untag else {})}]},
            "note": "if the workspace has the tag" if untag else "unless applied before; the tag is created if missing",
        }
        for names, untag in ((plan.tags, False), (plan.untags, True))
        for name in names
    ]


def _identify(plan: IdentifyPlan) -> list[PlannedRequest]:
    return _write_contact(plan) + _contact_tags(plan)


def _write_contact(plan: IdentifyPlan) -> list[PlannedRequest]:
    body = contact_body(plan, plan.custom_attributes)
    create: PlannedRequest = {"method": "POST", "path": "/contacts", "body": {**body, "role": plan.role}}
    if plan.contact.external_id is not None:
        create["note"] = (
            "a user Intercom has already answers 409: PUT /contacts/{id} then (the body without role); a new "
            f"user with an email has the leads of that email merged in (POST /contacts/merge); {_ATTRIBUTES_NOTE}"
        )
        return [create]
    create["note"] = f"when the search finds nobody; {_ATTRIBUTES_NOTE}"
    search: PlannedRequest = {
        "method": "POST",
        "path": "/contacts/search",
        "body": {
            "query": {"field": "email", "operator": "=", "value": plan.contact.email},
            "pagination": {"per_page": 50},
        },
        "note": "who has this email: a user first, else a lead, is updated with PUT /contacts/{id} (the body below)",
    }
    return [search, create]


def _group(plan: GroupPlan) -> list[PlannedRequest]:
    upsert: PlannedRequest = {
        "method": "POST",
        "path": "/companies",
        "body": dict(company_body(plan, plan.custom_attributes)),
        "note": _ATTRIBUTES_NOTE,
    }
    if not plan.contact:
        return [upsert, *_company_tags(plan)]
    who = f"external_id {plan.contact.external_id}" if plan.contact.external_id else f"email {plan.contact.email}"
    attach: PlannedRequest = {
        "method": "POST",
        "path": "/contacts/{contact id}/companies",
        "body": {"id": "{company id}"},
        "note": f"the contact with {who}, found first unless known",
    }
    return [upsert, *_company_tags(plan), attach]


def _detach(plan: DetachPlan) -> list[PlannedRequest]:
    who = f"external_id {plan.contact.external_id}" if plan.contact.external_id else f"email {plan.contact.email}"
    find: PlannedRequest = {
        "method": "GET",
        "path": f"/companies?company_id={plan.company_id}",
        "body": {},
        "note": "the company's Intercom id, unless known; a company Intercom does not have: nothing to detach",
    }
    detach: PlannedRequest = {
        "method": "DELETE",
        "path": "/contacts/{contact id}/companies/{company id}",
        "body": {},
        "note": f"the contact with {who}, found first unless known; one Intercom does not have: nothing to detach",
    }
    return [find, detach]


def _track(plan: TrackPlan) -> PlannedRequest:
    if plan.contact.external_id:
        return {"method": "POST", "path": "/events", "body": {**plan.event, "user_id": plan.contact.external_id}}
    return {
        "method": "POST",
        "path": "/events",
        "body": {**plan.event, "id": "{contact id}"},
        "note": f"the contact with email {plan.contact.email}, found first unless known",
    }


def _merge(plan: MergePlan) -> PlannedRequest:
    visitor = " or ".join(
        [f"anonymousId {plan.anonymous_id}"] * bool(plan.anonymous_id) + [f"email {plan.email}"] * bool(plan.email)
    )
    return {
        "method": "POST",
        "path": "/contacts/merge",
        "body": {"from": "{lead id}", "into": "{user id}"},
        "note": f"only if we made a lead for {visitor} (else nothing is sent); the user with external_id "
        f"{plan.user.external_id} is created first if Intercom has none",
    }
