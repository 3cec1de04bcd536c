"""identify → Identify Contact, table-tested (no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import Identify, parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.plans import IdentifyPlan, Skip

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RECEIVED_UNIX = 1795168800


def plan_for(event: dict[str, Any], leads: LeadHandling = LeadHandling.LEAD) -> IdentifyPlan | Skip:
    call = parse_call({"type": "identify", **event})
    assert isinstance(call, Identify)
    result = map_call(call, RECEIVED, leads)
    assert isinstance(result, IdentifyPlan | Skip)
    return result


def identified(event: dict[str, Any], leads: LeadHandling = LeadHandling.LEAD) -> IdentifyPlan:
    result = plan_for(event, leads)
    assert isinstance(result, IdentifyPlan), result
    return result


def test_user_with_standard_fields() -> None:
    plan = identified({
        "userId": "u1",
        "timestamp": "2026-11-20T09:00:00Z",
        "traits": {
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "name": "Ada Lovelace",
            "avatar": "https://img.example/ada.png",
            "createdAt": "2026-01-01T00:00:00Z",
            "owner_id": 123,
            "unsubscribed_from_emails": True,
        },
    })  # fmt: skip
    assert plan.role == "user"
    assert plan.contact.external_id == "u1"
    assert plan.contact.email == "ada@example.com"
    assert plan.body == {
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
        "name": "Ada Lovelace",
        "avatar": "https://img.example/ada.png",
        "signed_up_at": 1767225600,
        "last_seen_at": 1795165200,
        "owner_id": "123",
        "unsubscribed_from_emails": True,
    }
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("traits", "name"),
    [
        ({"firstName": "Grace", "lastName": "Hopper"}, "Grace Hopper"),
        ({"first_name": "Grace"}, "Grace"),
        ({"lastName": "Hopper"}, "Hopper"),
        ({"name": "G. Hopper", "firstName": "Grace"}, "G. Hopper"),
        ({"name": "Zoë Ådahl 李"}, "Zoë Ådahl 李"),
    ],
)
def test_name_from_parts(traits: dict[str, Any], name: str) -> None:
    assert identified({"userId": "u1", "traits": traits}).body["name"] == name


@pytest.mark.parametrize(
    ("created_at", "unix"),
    [
        ("2026-01-01T00:00:00Z", 1767225600),
        ("2026-01-01T01:00:00+01:00", 1767225600),
        ("2026-1-1T00:00:00Z", 1767225600),
        ("2026-01-01", 1767225600),
        (1767225600, 1767225600),
        (1767225600000, 1767225600),
        ("1767225600", 1767225600),
        (1767225600.9, 1767225600),
    ],
)
def test_signed_up_at_from_every_timestamp_form(created_at: Any, unix: int) -> None:
    assert identified({"userId": "u1", "traits": {"createdAt": created_at}}).body["signed_up_at"] == unix


def test_unparsable_created_at_is_left_out() -> None:
    assert "signed_up_at" not in identified({"userId": "u1", "traits": {"createdAt": "last tuesday"}}).body


def test_last_seen_defaults_to_receipt_and_honours_inactive_context() -> None:
    assert identified({"userId": "u1"}).body["last_seen_at"] == RECEIVED_UNIX
    assert "last_seen_at" not in identified({"userId": "u1", "context": {"active": False}}).body


def test_clock_skew_is_corrected_with_sent_at() -> None:
    plan = identified({
        "userId": "u1",
        "originalTimestamp": "2026-11-20T09:59:00Z",
        "sentAt": "2026-11-20T10:00:30Z",
    })  # fmt: skip
    assert plan.body["last_seen_at"] == RECEIVED_UNIX - 90


def test_custom_attributes_are_flattened_and_reserved_names_never_sent() -> None:
    plan = identified({
        "userId": "u1",
        "traits": {
            "plan": "pro",
            "logins": 3,
            "beta": False,
            "score": 9.5,
            "address": {"city": "London", "geo": {"lat": 51.5}},
            "labels": ["a", "b", 3],
            "orders": [{"id": 1}],
            "empty": "",
            "nothing": None,
            "id": "should-not-be-sent",
            "company": {"name": "Acme"},
            "companies": [{"id": "c1"}],
            "created_at": "2026-01-01",
            "user_id": "x",
            "email_domain": "example.com",
            "bad.key$name": "x",
        },
    })  # fmt: skip
    assert plan.custom_attributes == {
        "plan": "pro",
        "logins": 3,
        "beta": False,
        "score": 9.5,
        "address_city": "London",
        "address_geo_lat": 51.5,
        "labels": "a, b, 3",
        "bad_key_name": "x",
    }


def test_long_strings_are_cut_to_intercoms_limit() -> None:
    plan = identified({"userId": "u1", "traits": {"bio": "x" * 300, "name": "n" * 300}})
    assert plan.custom_attributes["bio"] == "x" * 255
    assert plan.body["name"] == "n" * 255


def test_traits_fall_back_to_context_traits() -> None:
    plan = identified({"userId": "u1", "context": {"traits": {"email": "rudder@example.com", "plan": "x"}}})
    assert plan.body["email"] == "rudder@example.com"
    assert plan.custom_attributes == {"plan": "x"}


def test_numeric_user_id_is_stringified() -> None:
    assert identified({"userId": 42}).contact.external_id == "42"


def test_email_without_user_id_is_a_lead() -> None:
    plan = identified({"anonymousId": "anon-1", "traits": {"email": "lead@example.com"}})
    assert plan.role == "lead"
    assert plan.contact.external_id is None
    assert plan.contact.email == "lead@example.com"


def test_lead_handling_user_and_skip() -> None:
    event = {"anonymousId": "anon-1", "traits": {"email": "lead@example.com"}}
    assert identified(event, LeadHandling.USER).role == "user"
    assert isinstance(plan_for(event, LeadHandling.SKIP), Skip)


def test_anonymous_without_email_is_skipped() -> None:
    assert isinstance(plan_for({"anonymousId": "anon-1", "traits": {"plan": "free"}}), Skip)


@pytest.mark.parametrize("spelling", ["lastSeenAt", "last_seen_at"])
def test_a_last_seen_trait_is_the_date_of_last_seen_never_a_custom_attribute(spelling: str) -> None:
    plan = identified({"userId": "u1", "traits": {spelling: "2026-11-01T00:00:00Z"}})
    assert plan.body["last_seen_at"] == 1793491200
    assert "custom_attributes" not in plan.body
    future = identified({"userId": "u1", "traits": {spelling: "2099-01-01T00:00:00Z"}})
    assert future.body["last_seen_at"] == RECEIVED_UNIX  # never in the future
    not_a_date = identified({"userId": "u1", "traits": {spelling: "yesterday"}})
    assert not_a_date.body["last_seen_at"] == RECEIVED_UNIX  # the event time, as without the trait
    assert "custom_attributes" not in not_a_date.body


@pytest.mark.parametrize("spelling", ["createdAt", "created_at", "signedUpAt", "signed_up_at"])
def test_every_spelling_of_the_signup_date_is_signed_up_at(spelling: str) -> None:
    plan = identified({"userId": "u1", "traits": {spelling: "2020-02-02T00:00:00Z"}})
    assert plan.body["signed_up_at"] == 1580601600
    assert "custom_attributes" not in plan.body


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["vip", " beta ", "VIP", "", None, 7], ("vip", "beta", "7")),  # no repeats (Intercom ignores case), no blanks
        ("vip", ("vip",)),  # one name
        ({"not": "a list"}, ()),
        ([f"t{n}" for n in range(30)], tuple(f"t{n}" for n in range(20))),  # at most 20 calls' worth
    ],
)
def test_identify_tags_are_names_without_repeats(tags: Any, expected: tuple[str, ...]) -> None:
    plan = identified({"userId": "u1", "traits": {"tags": tags}})
    assert plan.tags == expected
    assert plan.untags == ()
    assert "tags" not in plan.custom_attributes
