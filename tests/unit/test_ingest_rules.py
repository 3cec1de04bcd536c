"""Pure rules of the ingest flow: the integrations switch and the answer SDKs read."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_destination.ingest.lanes import person_queues
from intercom_destination.ingest.prepare import integrations_allow
from intercom_destination.ingest.report import ItemError, Report
from intercom_destination.ingest.work import Work
from intercom_destination.mapping.plans import Skip


@pytest.mark.parametrize(
    ("integrations", "allowed"),
    [
        ({}, True),
        ({"Intercom": False}, False),
        ({"intercom": False}, False),
        ({"INTERCOM": False}, False),
        ({"All": False}, False),
        ({"All": False, "Intercom": True}, True),
        ({"All": False, "Intercom": {"user_hash": "x"}}, True),
        ({"All": True, "Intercom": False}, False),
        ({"All": True}, True),
        ({"Mixpanel": False}, True),
        # Cloud mode's own name, and the most specific of our names decides.
        ({"Intercom Cloud Mode (Actions)": False}, False),
        ({"intercom cloud mode (actions)": False, "Intercom": True}, False),
        ({"Intercom Cloud Mode (Actions)": True, "Intercom": False}, True),
        ({"All": False, "Intercom Cloud Mode (Actions)": True}, True),
        ({"intercom-web": False}, True),  # web mode's name does not switch cloud mode
    ],
)
def test_integrations_switch(integrations: dict[str, Any], allowed: bool) -> None:
    assert integrations_allow(integrations) is allowed


def test_success_is_exactly_200_success_true() -> None:
    answer = Report().answer()
    assert (answer.status, answer.body) == (200, {"success": True})


def test_rejections_are_400_with_code_message_and_indexed_errors() -> None:
    report = Report(rejected=[ItemError(2, "m2", "event", "invalid_event", "Field required")])
    answer = report.answer()
    assert answer.status == 400
    assert isinstance(answer.body["code"], str)
    assert isinstance(answer.body["message"], str)
    assert answer.body["errors"] == [
        {"index": 2, "messageId": "m2", "field": "event", "code": "invalid_event", "message": "Field required"}
    ]


def test_events_not_made_durable_make_sdks_retry() -> None:
    report = Report(
        failed=[ItemError(1, "m1", "(event)", "not_accepted", "could not be made durable; resend")],
        rejected=[ItemError(0, None, "event", "invalid_event", "x")],
    )
    answer = report.answer()
    assert answer.status == 503
    assert answer.headers == {"Retry-After": "5"}
    assert answer.body["code"] == "not_accepted"
    assert [error["index"] for error in answer.body["errors"]] == [0, 1]


def test_an_event_whose_two_actions_were_not_accepted_is_named_once() -> None:
    busy = ItemError(3, "m3", "(event)", "not_accepted", "could not be made durable; resend")
    answer = Report(failed=[busy, busy]).answer()
    assert answer.body["message"] == "1 event(s) could not be accepted; retry the request"
    assert [error["index"] for error in answer.body["errors"]] == [3]


def test_events_of_one_person_share_a_queue_in_request_order() -> None:
    events: list[dict[str, Any]] = [
        {"type": "identify", "anonymousId": "a1", "traits": {"email": "V@example.com"}},
        {"type": "track", "userId": "u2", "event": "x"},
        {"type": "identify", "userId": "u1", "traits": {"email": "v@example.com"}},
        {"type": "group", "userId": "u1", "groupId": "g"},
        {"type": "group", "groupId": "g", "traits": {"email": "v@example.com"}},
        {"type": "track", "anonymousId": "a1", "event": "y"},
    ]
    prepared = [
        Work(index, None, str(data["type"]), Skip("test"), data, f"k{index}", 0, ())
        for index, data in enumerate(events)
    ]
    queues = {person.name: person.works for person in person_queues(prepared)}
    assert sorted([work.index for work in queue] for queue in queues.values()) == [[0, 2, 3, 5], [1], [4]]
    assert set(queues) == {"userId:u1", "userId:u2", "event:k4"}  # named by the most stable id


def test_a_blank_email_joins_nobody() -> None:
    """Two users who both send `traits.email: ""` are two people, not one queue named by the empty email."""
    events = [{"type": "identify", "userId": user, "traits": {"email": "  "}} for user in ("a", "b")]
    prepared = [
        Work(index, None, "identify", Skip("test"), data, f"k{index}", 0, ()) for index, data in enumerate(events)
    ]
    assert sorted(person.name for person in person_queues(prepared)) == ["userId:a", "userId:b"]
