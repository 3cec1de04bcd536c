"""Forgetting a person (#12 part 3) end to end: the real forget function against the sandbox and moto,
then a replay proving nothing of theirs comes back; run twice, the second finds nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from intercom_destination.person import hashed, person_ids

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start, handled, outcomes


def identify(user: str, email: str) -> dict[str, Any]:
    return events.identify(user, f"i-{user}", email=email, plan="pro")


def track(user: str, name: str) -> dict[str, Any]:
    return events.track(user, name, f"t-{user}-{name}")


def people(sandbox: SandboxControl) -> list[str]:
    return sorted(contact["external_id"] or contact["email"] for contact in sandbox.state()["contacts"])


def idempotency_records(stack: Stack, person_id: str) -> int:
    """Idempotency records naming this person (by their hashed id), read from the embedded DynamoDB."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)
    pages = dynamodb.get_paginator("scan").paginate(TableName=stack.resources.table)
    return sum(
        hashed(person_id) in item.get("people", {}).get("SS", [])
        for page in pages
        for item in page["Items"]
        if item["id"]["S"].startswith("intercom-destination#event#")
    )


def test_forget_deletes_the_contacts_the_messages_and_our_records_and_a_replay_brings_nothing_back(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    group = {"type": "group", "userId": "u-1", "groupId": "acme", "traits": {"name": "Acme"}}
    lead = {"type": "identify", "anonymousId": "visitor-1", "traits": {"email": "ada.old@example.com"}}
    assert api.batch(identify("u-1", "ada@example.com"), group, track("u-1", "Paid"), lead).status == 200
    assert api.batch(identify("u-2", "bob@example.com"), track("u-2", "Paid")).status == 200
    sandbox.configure(faults=[{"status": 400, "path": "/events"}])
    assert api.batch(track("u-1", "Refused")).status == 200  # parked
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    assert api.batch(track("u-1", "Later"), track("u-2", "Later")).status == 200  # queued
    assert (stack.depth(), stack.depth(parked=True)) == (2, 1)
    sandbox.configure(faults=[])
    assert (idempotency_records(stack, "userId:u-1"), idempotency_records(stack, "userId:u-2")) == (5, 3)
    assert idempotency_records(stack, "email:ada@example.com") == 1  # the identify carries it

    removed = stack.forget(user_id="u-1", email="ada@example.com")

    assert (len(removed["contacts"]), removed["queued"], removed["parked"], removed["claims"]) == (1, 1, 1, 5)
    assert removed["records"] >= 1
    assert "deleted 1 Intercom contact(s)" in removed["summary"]
    assert "and 5 idempotency record(s)" in removed["summary"]
    assert (idempotency_records(stack, "userId:u-1"), idempotency_records(stack, "userId:u-2")) == (0, 3)
    assert people(sandbox) == ["ada.old@example.com", "u-2"]  # a lead of another email is another person
    assert [event["event_name"] for event in sandbox.state()["events"]] == ["Paid"]  # u-2's
    assert [message.event["userId"] for message in stack.peek()] == ["u-2"]
    assert stack.peek(parked=True) == []
    assert outcomes(stack.replay()) == {
        "replayed": 1, "delivered": 1, "requeued": 0, "parked": 0, "stale": 0, "paused_ms": 0,
    }  # fmt: skip
    assert people(sandbox) == ["ada.old@example.com", "u-2"]

    again = stack.forget(user_id="u-1", email="ada@example.com")
    assert (again["contacts"], again["queued"], again["parked"], again["records"], again["claims"]) == ([], 0, 0, 0, 0)


def test_a_resend_of_a_forgotten_persons_old_event_does_not_bring_them_back(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Their idempotency records are gone, so the tombstone decides: an event dated before the forget (an
    SDK's resend, a pipeline replaying its archive under new messageIds) is dropped as `forgotten`; an
    event dated after it is a person coming back."""
    sent = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    old = [{**identify("u-5", "eve@example.com"), "timestamp": sent}, {**track("u-5", "Paid"), "timestamp": sent}]
    assert api.batch(*old).status == 200
    assert stack.forget(user_id="u-5")["claims"] == 2
    cold_start(stack)  # a new function: nothing of u-5 remembered in memory either

    resent = handled(*old)
    replayed = handled({**old[1], "messageId": "archive-1"})

    assert (resent.status, resent.counts) == (200, {"identify.forgotten": 1, "track.forgotten": 1})
    assert replayed.counts == {"track.forgotten": 1}
    assert people(sandbox) == []
    assert sandbox.state()["events"] == []
    assert idempotency_records(stack, "userId:u-5") == 0  # nothing of theirs is written after the forget
    assert handled(*old).counts == {"identify.duplicate": 1, "track.duplicate": 1}  # decided once

    back = {**identify("u-5", "eve@example.com"), "messageId": "i-u-5-back", "timestamp": datetime.now(UTC).isoformat()}
    assert handled(back).counts == {"identify.delivered": 1}
    assert people(sandbox) == ["u-5"]


def test_a_message_hidden_during_the_forget_is_dropped_when_it_comes_up(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    cold_start(stack, REDRIVE_BACKOFF_SECONDS="1")
    assert api.batch(identify("u-3", "cy@example.com")).status == 200
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    assert api.batch(track("u-3", "Paid")).status == 200
    assert outcomes(stack.replay())["requeued"] == 1  # failed again: hidden for its backoff
    sandbox.configure(faults=[])

    removed = stack.forget(user_id="u-3")
    assert (removed["queued"], removed["hidden"]) == (0, 1)  # not visible: left to the tombstone
    time.sleep(1.5)
    summary = stack.replay()
    assert (summary["forgotten"], summary["delivered"]) == (1, 0)
    assert people(sandbox) == []
    assert stack.depth() == 0


def test_a_person_who_comes_back_after_being_forgotten_is_new(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u-4", "dee@example.com")).status == 200
    stack.forget(email="dee@example.com")  # by email alone: found through Intercom's search and our records
    assert people(sandbox) == []
    cold_start(stack)  # in AWS the forget runs apart; a warm ingest function's memory lasts CACHE_TTL_SECONDS
    comeback = {**identify("u-4", "dee@example.com"), "messageId": "i-u-4-again"}
    assert Api(stack.url).batch(comeback).status == 200
    assert people(sandbox) == ["u-4"]


def test_a_warm_function_forgets_what_it_remembered_of_a_forgotten_person(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """The ingest function that wrote the contact stays warm: a dropped resend writes nothing of the person
    back to our records, and the same identify after the forget writes the contact again, not skipped as
    unchanged: the function's memory of the deleted contact goes with the tombstone it reads."""
    old = {**identify("u-6", "fay@example.com"), "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    assert api.batch(old).status == 200
    stack.forget(user_id="u-6")
    assert handled({**old, "messageId": "i-u-6-resent"}).counts == {"identify.forgotten": 1}
    again = stack.forget(user_id="u-6")
    assert (again["contacts"], again["records"], again["claims"]) == ([], 0, 0)
    back = {**identify("u-6", "fay@example.com"), "messageId": "i-u-6-back", "timestamp": datetime.now(UTC).isoformat()}
    assert handled(back).counts == {"identify.delivered": 1}
    assert people(sandbox) == ["u-6"]
    (contact,) = sandbox.state()["contacts"]
    assert (contact["email"], contact["custom_attributes"]["plan"]) == ("fay@example.com", "pro")


def test_the_ids_an_event_names_its_person_by() -> None:
    event = {
        "type": "track",
        "userId": "u",
        "context": {"traits": {"email": " A@Example.com "}},
        "properties": {"email": "b@example.com"},
    }
    assert person_ids(event) == ["userId:u", "email:a@example.com", "email:b@example.com"]
    company = {"type": "group", "groupId": "g", "traits": {"email": "billing@acme.example"}}
    assert person_ids(company) == []  # a group's traits.email is the company's


def test_forgets_during_a_backlog_never_cost_other_people_their_replays(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Each forget receives every visible message to find one person's: SQS counts a receive for everyone
    else's. Twelve forgets later, the others' messages are neither parked untried nor backed off as if they
    had failed twelve times: the redrive counts its own failed tries (tries.py)."""
    cold_start(stack, REDRIVE_BACKOFF_SECONDS="1")
    users = ["u-1", "u-2", "u-3"]
    assert api.batch(*(identify(user, f"{user}@example.com") for user in users)).status == 200
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    assert api.batch(*(track(user, "Paid") for user in users)).status == 200  # the backlog
    for _ in range(12):
        assert stack.forget(user_id="someone-else")["queued"] == 0
    assert (stack.depth(), stack.depth(parked=True)) == (3, 0)
    first = stack.replay()  # Intercom still failing: each fails its first try, hidden for 1 s
    assert (first["replayed"], first["requeued"], first["parked"]) == (3, 3, 0)
    sandbox.configure(faults=[])
    time.sleep(1.1)
    assert stack.replay()["delivered"] == 3
    assert sorted(event["user_id"] for event in sandbox.state()["events"]) == users
    assert stack.depth(parked=True) == 0
