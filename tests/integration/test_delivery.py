"""How events become Intercom state: no duplicate contacts, lead → user merge, attributes, attach.

Each test starts with an empty sandbox and a cold function; `cold_start` simulates a new Lambda
environment mid-test (the contact cache is empty, Intercom still has everything).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from local.sandbox import DEFAULT_TOKEN, SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start, outcomes


def calls(sandbox: SandboxControl) -> list[str]:
    return [f"{r['method']} {r['path'].split('/')[1]}" for r in sandbox.requests()]


def identify(user: str | None = "u1", anonymous: str = "anon-1", **traits: Any) -> dict[str, Any]:
    return events.identify(user, **traits) | {"anonymousId": anonymous}


def test_repeat_identify_of_a_known_user_costs_one_call(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(identify(email="ada@example.com")).status == 200
    before = len(sandbox.requests())
    assert api.batch(identify(email="ada@example.com", name="Ada")).status == 200
    assert calls(sandbox)[before:] == ["PUT contacts"]
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "Ada"


def test_a_known_user_in_a_cold_function_costs_one_put(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    """The person record remembers the contact id: a new function (empty warm cache) needs no lookup."""
    assert api.batch(identify(email="ada@example.com")).status == 200
    cold_start(stack)
    before = len(sandbox.requests())
    assert api.batch(identify(email="ada@example.com", name="Ada L.")).status == 200
    assert [f"{r['method']} {r['status']}" for r in sandbox.requests()[before:]] == ["PUT 200"]
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "Ada L."


def test_a_remembered_contact_id_that_intercom_no_longer_has_heals(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """The workspace lost the contact (deleted, merged away): the PUT's 404 forgets the id, the user is
    created again, and the record learns the new id."""
    assert api.batch(identify(email="ada@example.com")).status == 200
    sandbox.reset()  # Intercom forgot everything; our person record did not
    cold_start(stack)
    assert api.batch(identify(email="ada@example.com", name="Again")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["external_id"], contact["name"]) == ("u1", "Again")
    cold_start(stack)
    before = len(sandbox.requests())
    assert api.batch(identify(email="ada@example.com", name="Third")).status == 200
    assert [f"{r['method']} {r['path']}" for r in sandbox.requests()[before:]] == [f"PUT /contacts/{contact['id']}"]


def test_a_user_we_never_recorded_is_updated_via_409_never_duplicated(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Created elsewhere (or before the record existed): the 409 names it, we check it is ours, then PUT."""
    assert api.batch(identify(email="ada@example.com")).status == 200
    stack.clear()  # no person records, no claims: as if another system had created the contact
    cold_start(stack)
    before = len(sandbox.requests())
    assert api.batch(identify(email="ada@example.com", name="Ada L.")).status == 200
    assert [f"{r['method']} {r['status']}" for r in sandbox.requests()[before:]] == ["POST 409", "GET 200", "PUT 200"]
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "Ada L."


def test_a_second_user_with_the_first_users_email_never_touches_the_first_contact(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Two userIds, one email: Intercom's 409 names u1's contact. u2's identify is parked with both ids,
    u1's contact keeps its external_id and traits, and u1's events still land on it."""
    assert api.batch(identify("u1", email="shared@example.com", name="First")).status == 200
    reply = api.batch(identify("u2", email="shared@example.com", name="Second"))
    assert (reply.status, reply.body) == (200, {"success": True})  # accepted: parked, not lost
    (contact,) = sandbox.state()["contacts"]
    assert (contact["external_id"], contact["name"]) == ("u1", "First")
    (parked,) = stack.peek(parked=True)
    assert parked.last_error.code == "email_owned_by_other_user"
    assert "'u2'" in parked.reason
    assert "'u1'" in parked.reason
    assert "shared@example.com" not in parked.reason
    track = {"type": "track", "userId": "u1", "event": "Paid"}
    assert api.batch(track).status == 200
    (event,) = sandbox.state()["events"]
    assert event["contact_id"] == contact["id"]


def test_a_409_naming_a_contact_without_external_id_adopts_it(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    """A user known by email only (no userId yet) is the same person: it gets the userId, no duplicate."""
    cold_start(stack, LEAD_HANDLING="user")
    assert api.batch(identify(None, email="known@example.com")).status == 200
    assert api.batch(identify("u9", email="known@example.com", name="Now Known")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["external_id"], contact["name"], contact["role"]) == ("u9", "Now Known", "user")
    assert stack.peek(parked=True) == []


def test_lead_then_user_with_the_same_email_merge_into_one_contact(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(identify(None, email="visitor@example.com", plan="trial")).status == 200
    (lead,) = sandbox.state()["contacts"]
    assert (lead["role"], lead["external_id"]) == ("lead", None)
    assert api.batch(identify("u7", email="visitor@example.com")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["role"], contact["external_id"]) == ("user", "u7")
    assert contact["custom_attributes"] == {"plan": "trial"}  # kept from the lead by the merge


def test_lead_merge_does_not_wait_for_the_search_index(api: Api, sandbox: SandboxControl) -> None:
    sandbox.configure(search_lag_seconds=120)
    reply = api.batch(identify(None, email="fast@example.com"), identify("u8", email="fast@example.com"))
    assert reply.status == 200
    assert [(c["role"], c["external_id"]) for c in sandbox.state()["contacts"]] == [("user", "u8")]


def test_a_second_lead_identify_updates_the_same_lead(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(identify(None, email="lead@example.com")).status == 200
    cold_start(stack)
    assert api.batch(identify(None, email="lead@example.com", name="Lee")).status == 200
    (lead,) = sandbox.state()["contacts"]
    assert (lead["role"], lead["name"]) == ("lead", "Lee")


def test_lead_identify_for_a_users_email_updates_the_user(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u9", email="user@example.com")).status == 200
    cold_start(stack)
    assert api.batch(identify(None, email="user@example.com", name="From Form")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["role"], contact["external_id"], contact["name"]) == ("user", "u9", "From Form")


def test_missing_custom_attributes_are_created_with_their_type_once(api: Api, sandbox: SandboxControl) -> None:
    traits: dict[str, Any] = {"plan": "pro", "seats": 3, "beta": True, "ltv": 9.5}
    assert api.batch(identify("u1", **traits), identify("u2", **traits)).status == 200
    attributes = [r for r in sandbox.requests() if r["path"] == "/data_attributes"]
    assert [r["method"] for r in attributes] == ["GET", "POST", "POST", "POST", "POST"]
    assert sandbox.state()["data_attributes"]["contact"] == ["beta", "ltv", "plan", "seats"]
    assert all(c["custom_attributes"] == traits for c in sandbox.state()["contacts"])


def test_create_policy_is_bounded_per_minute_and_skips_names_that_look_like_data(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Traits keyed by ids or hashes would flood the workspace with attributes: they are dropped, and
    at most CUSTOM_ATTRIBUTE_CREATES_PER_MINUTE are created; the events are still delivered."""
    cold_start(stack, CUSTOM_ATTRIBUTE_CREATES_PER_MINUTE="3")
    traits: dict[str, Any] = {
        "plan": "pro",
        "seats": 3,
        "5f2b9c1e7d4a8b3c6e": 1,
        "20261127": "x",
        "-odd": 1,
        "tier": "a",
        "ltv": 9,
    }
    reply = api.batch(identify("u1", **traits), identify("u2", extra="later"))
    assert (reply.status, reply.body) == (200, {"success": True})
    assert sandbox.state()["data_attributes"]["contact"] == ["plan", "seats", "tier"]  # the first 3 plausible
    contacts = {c["external_id"]: c for c in sandbox.state()["contacts"]}
    assert contacts["u1"]["custom_attributes"] == {"plan": "pro", "seats": 3, "tier": "a"}
    assert contacts["u2"]["custom_attributes"] == {}
    assert stack.peek(parked=True) == []


def test_drop_policy_keeps_the_event_without_unknown_attributes(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    cold_start(stack, CUSTOM_ATTRIBUTE_POLICY="drop")
    assert api.batch(identify("u1", email="a@example.com", plan="pro")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["email"], contact["custom_attributes"]) == ("a@example.com", {})


def test_strict_policy_parks_the_event_naming_the_attribute(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, CUSTOM_ATTRIBUTE_POLICY="strict")
    assert api.batch(identify("u1", plan="pro")).status == 200  # valid, so accepted: parked, not lost
    (parked,) = stack.peek(parked=True)
    assert parked.last_error.code == "custom_attribute_undefined"
    assert "plan" in parked.reason
    assert sandbox.state()["contacts"] == []


def test_group_attaches_the_user_to_the_company_by_intercom_ids(api: Api, sandbox: SandboxControl) -> None:
    group = {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme", "tier": "gold"}}
    assert api.batch(identify("u1"), group).status == 200
    state = sandbox.state()
    (company,) = state["companies"]
    assert company["custom_attributes"] == {"tier": "gold"}
    assert state["contacts"][0]["companies"]["data"] == [{"type": "company", "id": company["id"]}]
    attach = next(r for r in sandbox.requests() if r["path"].endswith("/companies") and r["path"] != "/companies")
    assert attach["status"] == 200


def test_an_identify_carrying_a_company_creates_it_and_attaches_the_contact(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """`traits.company`, as Segment's spec and RudderStack's destination have it: the Identify Company action
    fires on the identify too, after the contact is written (one lane per person, in order)."""
    event = identify("u1", company={"id": "acme", "name": "Acme", "plan": "pro", "employees": 12, "tier": "gold"})
    assert api.batch(event).status == 200
    state = sandbox.state()
    (company,) = state["companies"]
    assert (company["company_id"], company["name"], company["plan"]["name"], company["size"]) == (
        "acme",
        "Acme",
        "pro",
        12,
    )
    assert company["custom_attributes"] == {"tier": "gold"}
    (contact,) = state["contacts"]
    assert contact["companies"]["data"] == [{"type": "company", "id": company["id"]}]
    assert "company" not in contact["custom_attributes"]
    assert stack.peek() == []
    before = len(sandbox.requests())
    assert api.batch({**event, "messageId": "again"}).status == 200  # a repeat of the same: nothing to write
    assert sandbox.requests()[before:] == []


def test_removing_a_company_intercom_does_not_have_is_nothing_to_do(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    assert api.batch(identify("u1", company={"id": "acme", "remove": True})).status == 200
    assert sandbox.state()["companies"] == []
    assert [(r["method"], r["path"], r["status"]) for r in sandbox.requests() if "compan" in r["path"]] == [
        ("GET", "/companies", 404)
    ]
    assert stack.peek() == []


def test_an_identify_removing_a_company_detaches_the_contact_newest_wins_with_attaches(
    api: Api, sandbox: SandboxControl
) -> None:
    """RudderStack's detach: `traits.company.remove`. An attach and a detach of one person and company are
    ordered by their event times, whatever order they arrive in."""

    def company_event(message_id: str, day: int, **company: Any) -> dict[str, Any]:
        event = identify("u1", company={"id": "acme", "name": "Acme", **company})
        return {**event, "messageId": message_id, "timestamp": f"2026-12-0{day}T10:00:00Z"}

    def attached() -> list[Any]:
        (contact,) = sandbox.state()["contacts"]
        return list(contact["companies"]["data"])

    assert api.batch(company_event("attach", 2)).status == 200
    assert len(attached()) == 1
    assert api.batch(company_event("detach", 4, remove=True)).status == 200
    assert attached() == []
    (detach,) = [r for r in sandbox.requests() if r["method"] == "DELETE"]
    assert (detach["path"].startswith("/contacts/"), detach["status"]) == (True, 200)
    assert api.batch(company_event("late attach", 3)).status == 200  # older than the detach: stale
    assert attached() == []
    assert api.batch(company_event("newer attach", 5)).status == 200
    assert len(attached()) == 1


def test_group_before_identify_upserts_the_company_and_queues_only_the_attach(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    group = {"type": "group", "userId": "late", "groupId": "acme", "traits": {"name": "Acme"}}
    assert api.batch(group).status == 200
    (company,) = sandbox.state()["companies"]
    assert company["company_id"] == "acme"
    (queued,) = stack.peek()
    assert (queued.step, queued.state, queued.last_error.code) == (
        "attach",
        {"company": company["id"]},
        "contact_not_found",
    )
    assert api.batch(identify("late")).status == 200
    before = len(sandbox.requests())
    assert outcomes(stack.replay()) == {
        "replayed": 1,
        "delivered": 1,
        "requeued": 0,
        "parked": 0,
        "stale": 0,
        "paused_ms": 0,
    }
    assert sandbox.state()["companies"][0]["user_count"] == 1
    assert [r["path"] for r in sandbox.requests()[before:]][-1].endswith("/companies")
    assert "/companies" not in [r["path"] for r in sandbox.requests()[before:]]  # the upsert is not redone
    assert stack.peek() == []


def test_group_with_only_a_group_id_attaches_nobody(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch({"type": "group", "groupId": "solo", "traits": {"plan": "free"}}).status == 200
    assert calls(sandbox) == ["POST companies"]
    (company,) = sandbox.state()["companies"]
    assert (company["company_id"], company["plan"]["name"], company["user_count"]) == ("solo", "free", 0)


def test_group_of_a_lead_attaches_by_the_users_email_not_the_company_email(api: Api, sandbox: SandboxControl) -> None:
    lead = identify(None, email="lead@example.com")
    group = {
        "type": "group",
        "anonymousId": "anon-1",
        "groupId": "acme",
        "traits": {"email": "billing@acme.example"},
        "context": {"traits": {"email": "lead@example.com"}},
    }
    assert api.batch(lead, group).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert contact["companies"]["total_count"] == 1


@pytest.mark.parametrize("user", ["u1", None])
def test_track_reaches_users_and_leads(api: Api, sandbox: SandboxControl, user: str | None) -> None:
    track = {
        "type": "track",
        "userId": user,
        "anonymousId": "anon-1",
        "event": "Viewed Pricing",
        "timestamp": "2026-11-20T10:00:00Z",
        "context": {"traits": {"email": "t@example.com"}},
    }
    assert api.batch(identify(user, email="t@example.com"), track).status == 200
    (event,) = sandbox.state()["events"]
    assert (event["event_name"], event["created_at"]) == ("Viewed Pricing", 1795168800)
    assert event["contact_id"] == sandbox.state()["contacts"][0]["id"]


def test_track_for_an_unknown_user_waits_in_the_queue(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    track = {"type": "track", "userId": "ghost", "event": "Clicked", "messageId": "t-ghost"}
    assert api.batch(track).status == 200
    (queued,) = stack.peek()
    assert (queued.message_id, queued.last_error.code) == ("t-ghost", "contact_not_found")
    assert api.batch(identify("ghost")).status == 200
    assert stack.replay()["delivered"] == 1
    assert [e["event_name"] for e in sandbox.state()["events"]] == ["Clicked"]


def test_the_same_event_sent_twice_is_stored_once(api: Api, sandbox: SandboxControl) -> None:
    track = {"type": "track", "userId": "u1", "event": "Paid", "timestamp": "2026-11-20T10:00:00Z"}
    assert api.batch(identify("u1"), track).status == 200
    assert api.batch(track).status == 200
    assert len(sandbox.state()["events"]) == 1


def test_a_contact_merged_away_since_it_was_cached_is_found_again(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Intercom answers 410 for a merged contact; the cached id is dropped and the user re-resolved."""
    assert api.batch(identify(None, email="m@example.com")).status == 200  # caches the lead's id by email
    cold_start(stack)
    assert api.batch(identify("u-m", email="m@example.com")).status == 200  # merges the lead away
    assert api.batch(identify(None, email="m@example.com", name="Again")).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["external_id"], contact["name"]) == ("u-m", "Again")


@pytest.mark.parametrize("writable", [False, True])
def test_attributes_we_create_are_messenger_writable_only_when_asked(
    api: Api, stack: Stack, sandbox: SandboxControl, writable: bool
) -> None:
    """Since Intercom 2.11 an attribute created through the API is not Messenger-writable, so web mode's
    identify could not set what cloud mode created; MESSENGER_WRITABLE_ATTRIBUTES opts in (any visitor's
    browser can then set it)."""
    cold_start(stack, MESSENGER_WRITABLE_ATTRIBUTES=str(writable).lower())
    assert api.batch({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}}).status == 200
    listed = urllib3.PoolManager().request(
        "GET",
        f"{sandbox.url}/data_attributes?model=contact",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"},
    )
    (plan,) = [attribute for attribute in json.loads(listed.data)["data"] if attribute["name"] == "plan"]
    assert plan["messenger_writable"] is writable


def test_a_detach_intercom_fails_is_queued_and_replayed(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u1", company={"id": "acme", "name": "Acme"})).status == 200
    sandbox.configure(faults=[{"status": 503, "method": "DELETE"}])
    removal = {**identify("u1", company={"id": "acme", "remove": True}), "messageId": "detach"}
    assert api.batch(removal).status == 200
    (queued,) = stack.peek()
    assert (queued.mapped_by or {}).get("type") == "detach_company"
    sandbox.configure(faults=[])
    cold_start(stack, REDRIVE_BACKOFF_SECONDS="1")
    assert stack.replay()["delivered"] == 1
    (contact,) = sandbox.state()["contacts"]
    assert contact["companies"]["data"] == []
