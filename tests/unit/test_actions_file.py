"""The actions file: validation names the action, the field and the problem; mappings change the plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import (
    KINDS,
    Action,
    ActionsError,
    ActionSet,
    default_actions,
    load_actions,
)
from intercom_destination.mapping.plans import ContactRef, GroupPlan, IdentifyPlan, Skip, TrackPlan

RECEIVED = datetime(2026, 11, 27, 12, tzinfo=UTC)


def actions(*entries: dict[str, Any]) -> ActionSet:
    return load_actions(json.dumps({"actions": list(entries)}), "test.json")


def problems(*entries: Any) -> list[str]:
    with pytest.raises(ActionsError) as raised:
        load_actions(json.dumps({"actions": list(entries)}), "test.json")
    return raised.value.problems


def plans(action_set: ActionSet, event: dict[str, Any]) -> dict[str, Any]:
    call = parse_call(event)
    return {
        action.name: map_call(call, RECEIVED, LeadHandling.LEAD, action, event) for action in action_set.fired(event)
    }


def test_the_field_names_are_intercoms() -> None:
    assert {kind: list(found.fields) for kind, found in KINDS.items()} == {
        "identify_contact": [
            "role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at",
            "owner_id", "unsubscribed_from_emails", "custom_attributes", "tags", "untags", "anonymous_id",
        ],
        "identify_company": [
            "company_id", "name", "plan", "monthly_spend", "size", "website", "industry", "remote_created_at",
            "custom_attributes", "tags", "untags", "user_id", "email",
        ],
        "detach_company": ["company_id", "user_id", "email"],
        "track_event": ["event_name", "created_at", "user_id", "email", "metadata", "revenue", "currency"],
        "merge_lead": ["user_id", "anonymous_id", "email"],
    }  # fmt: skip


def test_the_default_file_fires_one_action_per_type_and_nothing_for_the_others_but_an_identifys_company() -> None:
    defaults = default_actions()
    kinds = ("identify", "group", "track", "alias", "page", "screen")
    fired = {kind: [a.name for a in defaults.fired({"type": kind})] for kind in kinds}
    with_company = [a.name for a in defaults.fired({"type": "identify", "traits": {"company": {"id": "c1"}}})]
    assert with_company == ["Identify Contact", "Identify Company"]  # a company carried on an identify
    removing = {"type": "identify", "traits": {"company": {"id": "c1", "remove": True}}}
    assert [a.name for a in defaults.fired(removing)] == ["Identify Contact", "Detach Company"]
    assert fired == {
        "identify": ["Identify Contact"],
        "group": ["Identify Company"],
        "track": ["Track Event"],
        "alias": ["Merge Lead"],
        "page": [],
        "screen": [],
    }
    assert all(not action.mapping for action in defaults.actions)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("x", "actions[0]: must be an object"),
        (
            {"type": "track_event", "trigger": 'type = "track"'},
            "actions[0]: name: must be a non-empty string of at most 100 characters",
        ),
        (
            {"name": "A", "type": "track", "trigger": 'type = "track"'},
            "action 'A': type: 'track' is not an action type (known: identify_contact, identify_company, detach_company, track_event, merge_lead)",
        ),
        (
            {"name": "A", "type": "track_event", "trigger": 'type = "track"', "enabled": "yes"},
            "action 'A': enabled: must be true or false",
        ),
        (
            {"name": "A", "type": "track_event"},
            'action \'A\': trigger: must be a string such as "type = \\"track\\"" at column 1',
        ),
        (
            {"name": "A", "type": "track_event", "trigger": "type = track"},
            """action 'A': trigger: expected a value ("text", a number, true, false or null), found 'track' at column 8""",
        ),
        (
            {"name": "A", "type": "track_event", "trigger": 'type = "track"', "mapping": []},
            "action 'A': mapping: must be an object of field: mapping",
        ),
        (
            {"name": "A", "type": "track_event", "trigger": 'type = "track"', "mapping": {"nme": "x"}},
            "action 'A': mapping.nme: unknown field of track_event (fields: event_name, created_at, user_id, email, metadata, revenue, currency)",
        ),
        (
            {"name": "A", "type": "track_event", "trigger": 'type = "track"', "mapping": {"event_name": None}},
            "action 'A': mapping.event_name: Intercom requires it; it can be mapped, not turned off",
        ),
        (
            {"name": "A", "type": "identify_company", "trigger": 'type = "group"', "mapping": {"company_id": None}},
            "action 'A': mapping.company_id: Intercom requires it; it can be mapped, not turned off",
        ),
        (
            {"name": "A", "type": "identify_contact", "trigger": 'type = "identify"', "mapping": {"name": {"@iff": 1}}},
            "action 'A': mapping.name: @iff is not a directive (known: @path, @template, @if, @literal)",
        ),
        (
            {"name": "A", "type": "identify_contact", "trigger": 'type = "identify"', "triger": "x"},
            "action 'A': triger: unknown key (known: enabled, mapping, name, trigger, type)",
        ),
    ],
)
def test_each_problem_names_the_action_and_the_field(entry: Any, problem: str) -> None:
    assert problems(entry) == [problem]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {"name": "A", "type": "track_event", "trigger": "type =", "mapping": {"x": 1}},
        {"name": "A", "type": "track_event", "trigger": 'type = "track"'},
        {"name": "A", "type": "track_event", "trigger": 'type = "track"'},
    )
    assert found == [
        "action 'A': trigger: expected a value (\"text\", a number, true, false or null), found the end at column 7",
        "action 'A': mapping.x: unknown field of track_event (fields: event_name, created_at, user_id, email, "
        "metadata, revenue, currency)",
        "action 'A': the name is used twice (names key de-duplication)",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{", "not JSON"), ("[]", 'must be an object {"actions": [...]}'), ('{"actions": {}}', "must be an object")],
)
def test_a_file_that_is_not_an_actions_file(text: str, problem: str) -> None:
    with pytest.raises(ActionsError) as raised:
        load_actions(text, "test.json")
    assert raised.value.problems[0].startswith(problem)
    assert str(raised.value).startswith("test.json: invalid actions file")


IDENTIFY_CONTACT = {"name": "Identify Contact", "type": "identify_contact", "trigger": 'type = "identify"'}
TRACK_EVENT = {"name": "Track Event", "type": "track_event", "trigger": 'type = "track"'}


def test_a_signed_up_track_also_identifies_the_contact() -> None:
    signed_up = {
        "name": "Signed Up Contact",
        "type": "identify_contact",
        "trigger": 'type = "track" and event = "Signed Up"',
        "mapping": {"email": {"@path": "$.properties.email"}, "custom_attributes": {"@path": "$.properties.plan_info"}},
    }
    event = {
        "type": "track", "userId": "u-1", "event": "Signed Up", "timestamp": "2026-11-27T10:00:00Z",
        "properties": {"email": "ada@example.com", "plan_info": {"plan": "pro", "email": "x"}},
    }  # fmt: skip
    found = plans(actions(IDENTIFY_CONTACT, signed_up, TRACK_EVENT), event)
    assert list(found) == ["Signed Up Contact", "Track Event"]
    contact = found["Signed Up Contact"]
    assert contact == IdentifyPlan(
        contact=ContactRef("u-1", "ada@example.com"),
        role="user",
        body={"email": "ada@example.com", "last_seen_at": 1795773600},
        custom_attributes={"plan": "pro"},  # `email` is Intercom's own: never a custom attribute
    )
    assert isinstance(found["Track Event"], TrackPlan)


def test_a_heartbeat_is_dropped() -> None:
    tracks = {**TRACK_EVENT, "trigger": 'type = "track" and event != "Heartbeat"'}
    assert plans(actions(tracks), {"type": "track", "userId": "u", "event": "Heartbeat"}) == {}
    assert list(plans(actions(tracks), {"type": "track", "userId": "u", "event": "Beat"})) == ["Track Event"]


def test_a_trait_maps_to_a_custom_attribute_and_a_name_is_built() -> None:
    contact = {
        **IDENTIFY_CONTACT,
        "mapping": {
            "name": {
                "@if": {
                    "exists": {"@path": "$.traits.name"},
                    "then": {"@path": "$.traits.name"},
                    "else": {"@template": "{{traits.first}} {{traits.last}}"},
                }
            },
            "custom_attributes": {"company_name": {"@path": "$.traits.company_name"}},
        },
    }
    event = {
        "type": "identify",
        "userId": "u-1",
        "traits": {"first": "Ada", "last": "Lovelace", "company_name": "Acme", "x": 1},
    }
    plan = plans(actions(contact), event)["Identify Contact"]
    assert isinstance(plan, IdentifyPlan)
    assert plan.body["name"] == "Ada Lovelace"
    assert plan.custom_attributes == {"company_name": "Acme"}  # only what the mapping names


def test_identify_company_turned_off() -> None:
    off = {"name": "Identify Company", "type": "identify_company", "trigger": 'type = "group"', "enabled": False}
    assert plans(actions(IDENTIFY_CONTACT, off), {"type": "group", "userId": "u", "groupId": "g"}) == {}


def test_a_field_turned_off_and_an_unmappable_value() -> None:
    contact = {**IDENTIFY_CONTACT, "mapping": {"last_seen_at": None, "signed_up_at": {"@path": "$.traits.when"}}}
    event = {"type": "identify", "userId": "u-1", "traits": {"when": "not a date", "createdAt": "2020-01-01"}}
    plan = plans(actions(contact), event)["Identify Contact"]
    assert isinstance(plan, IdentifyPlan)
    assert plan.body == {}  # no last_seen_at; a mapped value that is no time is left out, not the default


@pytest.mark.parametrize("bad", ["..", ".", {"an": "object"}, None])
def test_a_mapped_id_that_intercom_cannot_address_is_no_id(bad: Any) -> None:
    track = {**TRACK_EVENT, "mapping": {"user_id": {"@literal": bad}, "email": {"@literal": None}}}
    assert plans(actions(track), {"type": "track", "userId": "u", "event": "E"}) == {
        "Track Event": Skip("track without userId or email: Intercom cannot attribute the event")
    }


def test_required_fields_fall_back_to_their_default_when_the_mapping_finds_nothing() -> None:
    track = {**TRACK_EVENT, "mapping": {"created_at": {"@path": "$.properties.missing"}}}
    event = {"type": "track", "userId": "u", "event": "E", "timestamp": "2026-11-27T10:00:00Z"}
    plan = plans(actions(track), event)["Track Event"]
    assert isinstance(plan, TrackPlan)
    assert plan.event["created_at"] == 1795773600


def test_company_from_an_identify_and_revenue_from_another_property() -> None:
    company = {
        "name": "Company From Identify",
        "type": "identify_company",
        "trigger": 'type = "identify" and traits.company.id != null',
        "mapping": {"company_id": {"@path": "$.traits.company.id"}, "name": {"@path": "$.traits.company.name"}},
    }
    order = {**TRACK_EVENT, "mapping": {"revenue": {"@path": "$.properties.total"}, "metadata": {"@literal": {}}}}
    identify = {"type": "identify", "userId": "u-1", "traits": {"company": {"id": 7, "name": "Acme"}}}
    assert plans(actions(company), identify) == {
        "Company From Identify": GroupPlan(company={"company_id": "7", "name": "Acme"}, contact=ContactRef("u-1"))
    }
    track = {"type": "track", "userId": "u-1", "event": "Paid", "properties": {"total": "12.50", "currency": "EUR"}}
    plan = plans(actions(order), track)["Track Event"]
    assert isinstance(plan, TrackPlan)
    assert plan.event["metadata"] == {"price": {"amount": 1250, "currency": "EUR"}}


def test_a_recorded_action_is_read_back_as_it_was() -> None:
    action = actions({**TRACK_EVENT, "mapping": {"event_name": {"@template": "x-{{event}}"}}}).actions[0]
    assert Action.from_spec(json.loads(json.dumps(action.spec()))) == action


def test_dedupe_keys_differ_per_action_but_the_default_action_keeps_the_events() -> None:
    (default_track,) = [action for action in default_actions().actions if action.type == "track_event"]
    renamed = actions({**TRACK_EVENT, "name": "Track"}).actions[0]
    as_contact = actions({**IDENTIFY_CONTACT, "trigger": 'type = "track"'}).actions[0]
    assert [a.dedupe_suffix("track") for a in (default_track, renamed, as_contact)] == [
        "",
        "/Track",
        "/Identify Contact",
    ]
