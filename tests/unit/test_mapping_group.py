"""group → Identify Company (+ the contact to attach), table-tested."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Group, parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.group import MAX_MONTHLY_SPEND
from intercom_destination.mapping.plans import ContactRef, GroupPlan

RECEIVED = datetime(2026, 11, 27, tzinfo=UTC)


def grouped(event: dict[str, Any]) -> GroupPlan:
    call = parse_call({"type": "group", **event})
    assert isinstance(call, Group)
    plan = map_call(call, RECEIVED, LeadHandling.LEAD)
    assert isinstance(plan, GroupPlan)
    return plan


def test_company_fields() -> None:
    plan = grouped({
        "userId": "u1",
        "groupId": "acme",
        "traits": {
            "name": "Acme",
            "plan": "enterprise",
            "monthly_spend": 99.9,
            "employees": "250",
            "website": "https://acme.example",
            "industry": "Anvils",
            "createdAt": "2020-02-02T00:00:00Z",
            "region": "EMEA",
            "address": {"city": "Paris"},
            "email": "billing@acme.example",
        },
    })  # fmt: skip
    assert plan.company == {
        "company_id": "acme",
        "name": "Acme",
        "plan": "enterprise",
        "monthly_spend": 99,
        "size": 250,
        "website": "https://acme.example",
        "industry": "Anvils",
        "remote_created_at": 1580601600,
    }
    assert plan.custom_attributes == {"region": "EMEA", "address_city": "Paris", "email": "billing@acme.example"}
    assert plan.contact == ContactRef(external_id="u1", email=None)


def test_the_company_email_never_addresses_the_contact() -> None:
    plan = grouped({"anonymousId": "a", "groupId": "acme", "traits": {"email": "billing@acme.example"}})
    assert not plan.contact


def test_the_users_email_comes_from_context_traits() -> None:
    plan = grouped({"anonymousId": "a", "groupId": "acme", "context": {"traits": {"email": "ada@example.com"}}})
    assert plan.contact == ContactRef(external_id=None, email="ada@example.com")


def test_group_with_only_a_group_id_attaches_nobody() -> None:
    plan = grouped({"groupId": 1234})
    assert plan.company == {"company_id": "1234"}
    assert not plan.contact


@pytest.mark.parametrize(
    ("spend", "expected"),
    [(0, 0), ("12.99", 12), (10**12, MAX_MONTHLY_SPEND), ("lots", None), (True, None)],
)
def test_monthly_spend(spend: Any, expected: int | None) -> None:
    assert grouped({"groupId": "g", "traits": {"monthly_spend": spend}}).company.get("monthly_spend") == expected


def test_reserved_company_names_are_not_custom_attributes() -> None:
    plan = grouped({"groupId": "g", "traits": {"id": "x", "company_id": "y", "user_count": 3, "tags": ["a"]}})
    assert plan.custom_attributes == {}


@pytest.mark.parametrize("spelling", ["remoteCreatedAt", "remote_created_at", "createdAt", "created_at"])
def test_every_spelling_of_the_companys_creation_date_is_remote_created_at(spelling: str) -> None:
    plan = grouped({"userId": "u1", "groupId": "acme", "traits": {spelling: "2020-02-02T00:00:00Z"}})
    assert plan.company["remote_created_at"] == 1580601600
    assert "custom_attributes" not in plan.company


def test_remote_created_at_wins_over_created_at() -> None:
    traits = {"createdAt": "2021-01-01T00:00:00Z", "remoteCreatedAt": "2020-02-02T00:00:00Z"}
    assert grouped({"userId": "u1", "groupId": "acme", "traits": traits}).company["remote_created_at"] == 1580601600


def company_of_identify(traits: dict[str, Any]) -> GroupPlan:
    from intercom_destination.mapping.actions import default_actions

    event = {"type": "identify", "userId": "u1", "traits": traits}
    (action,) = [action for action in default_actions().fired(event) if action.type == "identify_company"]
    plan = map_call(parse_call(event), RECEIVED, LeadHandling.LEAD, action, event)
    assert isinstance(plan, GroupPlan)
    return plan


def test_an_identifys_company_is_upserted_and_the_contact_attached() -> None:
    plan = company_of_identify({"email": "ada@example.com", "company": {"id": 42, "name": "Acme", "plan": "pro"}})
    assert plan.company == {"company_id": "42", "name": "Acme", "plan": "pro"}
    assert plan.contact == ContactRef(external_id="u1", email="ada@example.com")


@pytest.mark.parametrize("company", [{"name": "Acme"}, "Acme"])
def test_an_identifys_company_without_an_id_is_named_by_the_md5_of_its_name_as_rudderstack_names_it(
    company: Any,
) -> None:
    assert company_of_identify({"company": company}).company["company_id"] == "79d894520f4f94c267986a819e110bec"


def test_an_identify_of_a_lead_attaches_by_its_own_email() -> None:
    event = {"type": "identify", "anonymousId": "a1", "traits": {"email": "v@example.com", "company": {"id": "c"}}}
    from intercom_destination.mapping.actions import default_actions

    (action,) = [action for action in default_actions().fired(event) if action.type == "identify_company"]
    plan = map_call(parse_call(event), RECEIVED, LeadHandling.LEAD, action, event)
    assert isinstance(plan, GroupPlan)
    assert plan.contact == ContactRef(external_id=None, email="v@example.com")


def test_an_identify_removing_its_company_plans_a_detach_of_the_contact() -> None:
    from intercom_destination.mapping.actions import default_actions
    from intercom_destination.mapping.plans import DetachPlan
    from intercom_destination.mapping.requests import requests_of

    event = {"type": "identify", "userId": "u1", "traits": {"company": {"name": "Acme", "remove": True}}}
    (action,) = [action for action in default_actions().fired(event) if action.type == "detach_company"]
    plan = map_call(parse_call(event), RECEIVED, LeadHandling.LEAD, action, event)
    assert plan == DetachPlan("79d894520f4f94c267986a819e110bec", ContactRef(external_id="u1"))
    assert [(r["method"], r["path"]) for r in requests_of(plan)] == [
        ("GET", "/companies?company_id=79d894520f4f94c267986a819e110bec"),
        ("DELETE", "/contacts/{contact id}/companies/{company id}"),
    ]
