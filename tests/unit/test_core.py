"""The deliverer, ingest and the redrive, fast: built by the real wiring, Intercom answered in-process by the
sandbox (no socket), SQS and DynamoDB by an embedded moto (tests/unit/conftest.py). The HTTP layer, the
SDKs and several processes are the integration and end-to-end tests' part."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_destination import wiring
from intercom_destination.config.settings import LeadHandling
from intercom_destination.delivery.errors import WAITS_FOR_LATER_EVENT, DeliveryError, Step
from intercom_destination.intake.events import parse_call
from intercom_destination.intercom.errors import PermanentError
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import default_actions
from intercom_destination.mapping.fields import AnyCall

from tests import events
from tests.unit.conftest import Core


def identify(user: str = "u1", message_id: str | None = None, **traits: Any) -> dict[str, Any]:
    return events.identify(user, message_id, **{"email": f"{user}@example.com", **traits})


def group(user: str = "u1", company: str = "acme", **traits: Any) -> dict[str, Any]:
    return events.group(user, company, **{"name": company.title(), **traits})


def track(user: str = "u1", name: str = "Paid", message_id: str | None = None) -> dict[str, Any]:
    return events.track(user, name, message_id)


# --- the deliverer --------------------------------------------------------------------------------------
def plan_of(event: dict[str, Any]) -> Any:
    call: AnyCall = parse_call(event)
    (action,) = default_actions().fired(event)
    return map_call(call, datetime.now(UTC), LeadHandling.LEAD, action, event)


def test_a_new_user_is_created_and_an_unchanged_one_costs_nothing(core: Core) -> None:
    deliverer = wiring._deliverer()
    deliverer.deliver(plan_of(identify(plan="pro")))
    first = core.calls()
    assert "POST /contacts" in first
    deliverer.deliver(plan_of(identify(plan="pro")))
    assert core.calls() == first  # the same body within the write window: no call
    deliverer.deliver(plan_of(identify(plan="team")))
    assert core.calls()[len(first) :] == [f"PUT /contacts/{core.sandbox.snapshot()['contacts'][0]['id']}"]


def test_a_group_upserts_and_attaches_once(core: Core) -> None:
    deliverer = wiring._deliverer()
    deliverer.deliver(plan_of(identify()))
    before = len(core.calls())
    deliverer.deliver(plan_of(group(employees=12)))
    assert [call.split(" ")[0] + " " + call.split("/")[1] for call in core.calls()[before:]] == [
        "POST companies",
        "POST contacts",
    ]
    again = len(core.calls())
    deliverer.deliver(plan_of(group(employees=12)))
    assert len(core.calls()) == again
    (company,) = core.sandbox.snapshot()["companies"]
    assert (company["company_id"], company["size"], company["user_count"]) == ("acme", 12, 1)


def test_a_track_before_its_users_identify_waits_for_a_later_event(core: Core) -> None:
    with pytest.raises(DeliveryError) as raised:
        wiring._deliverer().deliver(plan_of(track("nobody-yet")))
    assert raised.value.error.code == WAITS_FOR_LATER_EVENT
    assert raised.value.error.retryable


def test_a_group_whose_attach_fails_resumes_at_the_attach(core: Core) -> None:
    deliverer = wiring._deliverer()
    deliverer.deliver(plan_of(identify()))
    core.faults({"status": 503, "path": "/contacts/[^/]+/companies", "method": "POST"})
    with pytest.raises(DeliveryError) as raised:
        deliverer.deliver(plan_of(group()))
    assert raised.value.step == Step.ATTACH
    company_id = raised.value.state["company"]
    core.faults()
    deliverer.deliver(plan_of(group()), raised.value.step, raised.value.state)
    assert core.calls()[-1].endswith("/companies")
    assert core.sandbox.snapshot()["companies"][0]["id"] == company_id


def test_two_user_ids_with_one_email_never_touch_the_other_users_contact(core: Core) -> None:
    deliverer = wiring._deliverer()
    deliverer.deliver(plan_of(identify("first", email="shared@example.com")))
    with pytest.raises(DeliveryError) as raised:
        deliverer.deliver(plan_of(identify("second", email="shared@example.com", name="Not First")))
    assert isinstance(raised.value.error, PermanentError)
    assert raised.value.error.code == "email_owned_by_other_user"
    (contact,) = core.sandbox.snapshot()["contacts"]
    assert (contact["external_id"], contact.get("name")) == ("first", None)


# --- ingest ---------------------------------------------------------------------------------------------
def test_a_batch_is_delivered_and_its_resend_costs_no_call(core: Core) -> None:
    batch = [identify(message_id="m-1"), group(), track(message_id="m-3")]
    answer = core.send(*batch)
    assert (answer.status, answer.body) == (200, {"success": True})
    assert answer.counts == {"identify.delivered": 1, "group.delivered": 1, "track.delivered": 1}
    state = core.sandbox.snapshot()
    assert [event["event_name"] for event in state["events"]] == ["Paid"]
    before = len(core.calls())
    assert core.send(*batch).counts == {"identify.duplicate": 1, "group.duplicate": 1, "track.duplicate": 1}
    assert len(core.calls()) == before


def test_an_invalid_event_is_refused_by_its_field_and_the_others_delivered(core: Core) -> None:
    answer = core.send(identify(), {"type": "track", "userId": "u1"})
    assert answer.status == 400
    (error,) = answer.body["errors"]
    assert (error["index"], error["field"], error["code"]) == (1, "event", "invalid_event")
    assert answer.counts == {"identify.delivered": 1, "track.rejected": 1}


def test_a_failing_intercom_queues_the_event_and_the_persons_later_ones_behind_it(core: Core) -> None:
    assert core.send(identify()).status == 200
    core.faults({"status": 503, "path": "/events"})
    answer = core.send(track(name="First"), track(name="Second"))
    assert answer.status == 200  # queued is accepted: durable, the SDK is done
    assert answer.counts == {"track.queued": 2}
    queued = core.resources.peek()
    assert [(q.event["event"], q.last_error.code) for q in queued] == [
        ("First", "service_unavailable"),
        ("Second", "queued_behind"),
    ]
    assert len({q.person for q in queued}) == 1  # one message group: replayed in order


# --- the redrive ----------------------------------------------------------------------------------------
def test_the_redrive_delivers_what_was_queued_once_intercom_is_back(core: Core) -> None:
    assert core.send(identify()).status == 200
    core.faults({"status": 503, "path": "/events"})
    assert core.send(track(name="First"), track(name="Second")).status == 200
    core.faults()
    summary = core.replay()
    assert (summary.replayed, summary.delivered, summary.parked) == (2, 2, 0)
    assert [event["event_name"] for event in core.sandbox.snapshot()["events"]] == ["First", "Second"]
    assert core.resources.depth() == 0


def test_the_redrive_parks_what_intercom_refuses_for_good(core: Core) -> None:
    assert core.send(identify()).status == 200
    core.faults({"status": 503, "path": "/events"})
    assert core.send(track()).status == 200
    core.faults({"status": 400, "path": "/events"})
    summary = core.replay()
    assert (summary.replayed, summary.delivered, summary.parked) == (1, 0, 1)
    (parked,) = core.resources.peek(parked=True)
    assert parked.last_error.status == 400


def test_a_replay_older_than_what_was_applied_is_stale(core: Core) -> None:
    old = identify(plan="old") | {"timestamp": "2026-01-01T00:00:00Z"}
    core.faults({"status": 503, "path": "/contacts"})
    assert core.send(old).counts == {"identify.queued": 1}
    core.faults()
    newer = identify(plan="new") | {"timestamp": "2026-02-01T00:00:00Z"}
    assert core.send(newer).counts == {"identify.queued": 1}  # behind the person's waiting identify, in order
    summary = core.replay()
    assert (summary.delivered, summary.stale) == (2, 0)
    (contact,) = core.sandbox.snapshot()["contacts"]
    assert contact["custom_attributes"]["plan"] == "new"
