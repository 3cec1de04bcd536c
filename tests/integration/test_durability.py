"""No event lost, none doubled: fault injection against the sandbox, asserting the exact final state.

Every accepted event must end in Intercom exactly once after replays, or parked with its reason.
REDRIVE_BACKOFF_SECONDS is 1 here so that a replay after a failure does not wait 30 s.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from intercom_destination.durability.queue import QueuedEvent

from local.sandbox import DEFAULT_TOKEN, SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start, handled, outcomes

FAST_BACKOFF = {"REDRIVE_BACKOFF_SECONDS": "1"}


def identify(user: str, **traits: Any) -> dict[str, Any]:
    return events.identify(user, f"i-{user}", **traits)


def track(user: str, event: str, message_id: str, second: int = 0) -> dict[str, Any]:
    return events.track(user, event, message_id, timestamp=f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}Z")


def group(user: str, company: str) -> dict[str, Any]:
    return events.group(user, company, f"g-{user}-{company}")


def replay_until_empty(stack: Stack, rounds: int = 20) -> list[dict[str, int]]:
    runs = []
    for _ in range(rounds):
        runs.append(stack.replay())
        if stack.depth() == 0:
            return runs
        time.sleep(1.1)  # backoff doubles from 1 s; later rounds find more of the queue visible again
    pytest.fail(f"the queue did not drain: {runs}")


@pytest.fixture
def fast(stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, **FAST_BACKOFF)


def test_the_same_message_id_three_times_is_one_event(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u1")).status == 200
    event = {**track("u1", "Paid", "m-1"), "timestamp": None}  # no timestamp: created_at would differ per send
    replies = [api.batch(event).status for _ in range(3)]
    assert replies == [200, 200, 200]
    assert len(sandbox.state()["events"]) == 1
    assert [r["path"] for r in sandbox.requests()].count("/events") == 1


def test_the_same_message_id_twice_in_one_batch_is_one_event(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u1")).status == 200
    reply = api.batch(track("u1", "Paid", "m-1"), track("u1", "Paid", "m-1"))
    assert (reply.status, reply.body) == (200, {"success": True})
    assert len(sandbox.state()["events"]) == 1


def test_a_batch_of_250_is_claimed_in_several_transactions_and_its_resend_costs_nothing(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """Claims go 100 to a transaction: 250 events take three, and the SDK's resend finds all of them."""
    cold_start(stack, DELIVERY_BUDGET_SECONDS="60")  # time enough on any machine: nothing is deferred
    assert api.batch(identify("u1")).status == 200
    batch = [track("u1", f"E{n}", f"m-{n}", second=n) for n in range(250)]
    assert api.batch(*batch).status == 200
    assert stack.depth() == 0
    assert len(sandbox.state()["events"]) == 250
    before = len(sandbox.requests())
    assert api.batch(*batch).body == {"success": True}
    assert len(sandbox.requests()) == before


def test_the_same_message_id_under_another_write_key_is_another_event(api: Api, sandbox: SandboxControl) -> None:
    from tests.conftest import CIO_KEY

    assert api.batch(identify("u1")).status == 200
    event = {**track("u1", "Paid", "m-1"), "timestamp": None}
    assert api.batch(event).status == 200
    time.sleep(1.05)  # another second: Intercom would otherwise drop it as a repeat
    assert api.batch(event, key=CIO_KEY).status == 200
    assert len(sandbox.state()["events"]) == 2


def test_sqs_unavailable_answers_503_and_the_resend_is_accepted_once(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    missing = stack.resources.dead_letter_queue_url.replace("dlq", "missing")
    cold_start(stack, DEAD_LETTER_QUEUE_URL=missing)
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    batch = [identify("u1"), track("u1", "Paid", "m-1")]
    reply = api.batch(*batch)
    assert reply.status == 503
    assert [(e["index"], e["code"]) for e in reply.body["errors"]] == [(1, "not_accepted")]
    cold_start(stack, **FAST_BACKOFF)  # SQS is back
    assert api.batch(*batch).status == 200  # the SDK's resend: the identify is a duplicate, the track is queued
    assert len(stack.peek()) == 1
    sandbox.configure(faults=[])
    replay_until_empty(stack)
    assert len(sandbox.state()["events"]) == 1
    assert [r["method"] for r in sandbox.requests() if r["path"] == "/contacts"] == ["POST"]


def test_sqs_taking_part_of_a_batch_names_exactly_the_rest_and_the_resend_doubles_nothing(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """SQS may accept some entries of a SendMessageBatch and fail others. The answer names exactly the
    events that were not made durable; only their claims are released, so the SDK's resend of the whole
    batch queues those and nothing twice. (The partial failure is injected at the boto3 client, for
    the people u3 and u7: moto itself never fails part of a batch.)"""
    from intercom_destination.person import person_group

    refused_groups = {person_group("userId:u3"), person_group("userId:u7")}

    def drop(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["refused"] = [e["Id"] for e in params["Entries"] if e["MessageGroupId"] in refused_groups]
        params["Entries"] = [e for e in params["Entries"] if e["MessageGroupId"] not in refused_groups]

    def report(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        failed = [{"Id": i, "SenderFault": False, "Code": "InternalError"} for i in context.get("refused", [])]
        parsed["Failed"] = parsed.get("Failed", []) + failed

    cold_start(stack)
    events = boto3._get_default_session().events
    events.register("provide-client-params.sqs.SendMessageBatch", drop, unique_id="test-drop")
    events.register("after-call.sqs.SendMessageBatch", report, unique_id="test-report")
    sandbox.configure(faults=[{"status": 503, "path": "/contacts"}])
    batch = [identify(f"u{n}") for n in range(30)]
    try:
        reply = api.batch(*batch)
    finally:
        events.unregister("provide-client-params.sqs.SendMessageBatch", unique_id="test-drop")
        events.unregister("after-call.sqs.SendMessageBatch", unique_id="test-report")
    assert reply.status == 503
    assert [(e["index"], e["code"]) for e in reply.body["errors"]] == [(3, "not_accepted"), (7, "not_accepted")]
    assert len(stack.peek()) == 28
    cold_start(stack)
    assert api.batch(*batch).status == 200  # the SDK's resend
    queued = Counter(message.event["userId"] for message in stack.peek())
    assert queued == Counter({f"u{n}": 1 for n in range(30)})


def test_group_before_identify_then_identify_then_replay_attaches(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    assert api.batch(group("early", "acme")).status == 200
    assert sandbox.state()["companies"][0]["user_count"] == 0
    assert api.batch(identify("early")).status == 200
    assert stack.replay()["delivered"] == 1
    assert sandbox.state()["companies"][0]["user_count"] == 1


def test_a_group_waiting_for_its_contact_does_not_hold_back_the_identify_it_waits_for(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """Group then identify in one batch: the group's attach waits for the contact, so the identify must
    not be queued behind it (both would wait for each other until SQS parked the group)."""
    assert api.batch(group("u1", "acme"), identify("u1")).status == 200
    (queued,) = stack.peek()
    assert (queued.action, queued.step) == ("group", "attach")
    assert [c["external_id"] for c in sandbox.state()["contacts"]] == ["u1"]
    assert stack.replay()["delivered"] == 1
    (contact,) = sandbox.state()["contacts"]
    assert len(contact["companies"]["data"]) == 1


def test_a_queued_identify_keeps_the_persons_later_events_behind_it(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    sandbox.configure(faults=[{"status": 500, "method": "POST", "path": "/contacts", "times": 3}])
    assert api.batch(identify("u1", plan="pro"), group("u1", "acme"), track("u1", "Paid", "m-1")).status == 200
    assert [q.action for q in stack.peek()] == ["identify", "group", "track"]
    assert sandbox.state()["companies"] == []  # the group was not attempted before its identify
    replay_until_empty(stack)
    replayed = [f"{r['method']} {r['path'].split('/')[1]}" for r in sandbox.requests() if r["status"] < 300]
    assert replayed.index("POST contacts") < replayed.index("POST companies") < replayed.index("POST events")
    state = sandbox.state()
    assert state["companies"][0]["user_count"] == 1
    assert len(state["events"]) == 1


def test_revoked_token_keeps_everything_until_it_is_fixed(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    sandbox.configure(token="rotated-elsewhere")
    assert api.batch(identify("u1"), track("u1", "Paid", "m-1")).status == 200
    assert [q.last_error.status for q in stack.peek()] == [401, None]
    time.sleep(1.1)
    # The identify fails again; the track behind it goes back untried (FIFO holds it behind the identify).
    assert outcomes(stack.replay()) == {
        "replayed": 1,
        "delivered": 0,
        "requeued": 2,
        "parked": 0,
        "stale": 0,
        "paused_ms": 0,
    }
    sandbox.configure(token=DEFAULT_TOKEN)
    replay_until_empty(stack)
    state = sandbox.state()
    assert (len(state["contacts"]), len(state["events"])) == (1, 1)


def test_a_revoked_token_is_counted_for_its_alarm(stack: Stack, sandbox: SandboxControl) -> None:
    """The template alarms on `intercom_unauthorized`; the handler emits each answer's counts as metrics."""
    sandbox.configure(token="rotated-elsewhere")
    answer = handled(identify("u1"))
    assert (answer.status, answer.counts["intercom_unauthorized"], answer.counts["identify.queued"]) == (200, 1, 1)


def test_calls_hanging_past_the_timeout_are_queued_not_lost(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, INTERCOM_READ_TIMEOUT="0.3", **FAST_BACKOFF)
    sandbox.configure(faults=[{"status": 0, "delay_seconds": 1, "path": "/events", "times": 1}])
    assert api.batch(identify("u1")).status == 200
    assert api.batch(track("u1", "Paid", "m-1")).status == 200
    (queued,) = stack.peek()
    assert queued.last_error.code == "ReadTimeoutError"
    replay_until_empty(stack)
    assert len(sandbox.state()["events"]) == 1  # the hung call may have landed too: Intercom keeps one


def test_the_time_budget_defers_the_rest_and_answers_in_time(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, DELIVERY_BUDGET_SECONDS="1", **FAST_BACKOFF)
    sandbox.configure(latency_ms=500)  # 13 calls in a row would take 6.5 s or more
    started = time.monotonic()
    reply = api.batch(identify("u1"), *(track("u1", f"Step {i}", f"m-{i}") for i in range(12)))
    elapsed = time.monotonic() - started
    assert reply.status == 200
    assert elapsed < 4.0  # the 1 s budget and queueing the rest; without the budget, 6.5 s or more
    deferred = stack.peek()
    assert deferred
    # the call in flight at the deadline is cut there (a read timeout), the rest never start
    assert {q.last_error.code for q in deferred} <= {"deferred", "queued_behind", "ReadTimeoutError"}
    sandbox.configure(latency_ms=0)
    replay_until_empty(stack)
    names = [e["event_name"] for e in sandbox.state()["events"]]
    assert names == [f"Step {i}" for i in range(12)]  # each once, in order


def test_a_call_in_flight_is_cut_at_the_budget_not_at_its_own_timeout(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Intercom answering in 5 s with a 1 s budget and a 6 s read timeout: the answer comes at the
    budget (the call's timeout is the time left), and the event is queued, not lost."""
    cold_start(stack, DELIVERY_BUDGET_SECONDS="1", INTERCOM_READ_TIMEOUT="6", **FAST_BACKOFF)
    sandbox.configure(latency_ms=5000)
    started = time.monotonic()
    reply = api.batch(identify("u1"))
    elapsed = time.monotonic() - started
    assert (reply.status, reply.body) == (200, {"success": True})
    assert elapsed < 3.5  # 1 s budget + durability; without the cap: 5 s or more
    (queued,) = stack.peek()
    assert queued.last_error.code == "ReadTimeoutError"


def test_a_429_storm_is_queued_and_replayed_after_the_window(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    assert api.batch(identify("u1")).status == 200
    sandbox.configure(faults=[{"status": 429, "times": 1}])
    assert api.batch(*(track("u1", f"E{i}", f"m-{i}") for i in range(5))).status == 200
    assert len(sandbox.requests()) == 2  # one 429, then no call until the window resets
    cold_start(stack, **FAST_BACKOFF)  # a new function: the redrive run does not share the old window
    replay_until_empty(stack)
    assert sorted(e["event_name"] for e in sandbox.state()["events"]) == [f"E{i}" for i in range(5)]


def test_permanent_errors_in_a_replay_are_parked_with_the_reason(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    assert api.batch(track("nobody", "Paid", "m-1")).status == 200
    assert api.batch(identify("nobody")).status == 200
    sandbox.configure(faults=[{"status": 422, "path": "/events"}])
    assert outcomes(stack.replay()) == {
        "replayed": 1,
        "delivered": 0,
        "requeued": 0,
        "parked": 1,
        "stale": 0,
        "paused_ms": 0,
    }
    (parked,) = stack.peek(parked=True)
    assert parked.last_error.status == 422
    assert parked.reason.startswith("error:")
    assert stack.depth() == 0


def test_a_batch_with_injected_faults_ends_in_intercom_exactly_once(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """The small version of benchmarks/soak.py: 100 events, 30 % of Intercom calls failing."""
    rng = random.Random(7)
    users = [f"user-{n}" for n in range(10)]
    events: list[dict[str, Any]] = [identify(user, plan="pro") for user in users]
    events += [group(user, f"co-{n % 3}") for n, user in enumerate(users)]
    events += [track(rng.choice(users), f"Event {n % 7}", f"m-{n}", second=n) for n in range(80)]
    sandbox.configure(faults=[{"status": 500, "rate": 0.15}, {"status": 503, "rate": 0.15}], seed=7)
    for start in range(0, len(events), 25):
        assert api.batch(*events[start : start + 25]).status == 200
    assert stack.peek()  # some were queued
    sandbox.configure(faults=[])
    replay_until_empty(stack)
    state = sandbox.state()
    assert sorted(c["external_id"] for c in state["contacts"]) == sorted(users)
    assert all(c["companies"]["total_count"] == 1 for c in state["contacts"])
    delivered = Counter((e["user_id"], e["event_name"], e["created_at"]) for e in state["events"])
    expected = Counter(
        (e["userId"], e["event"], 1795168800 + int(e["messageId"][2:])) for e in events if e["type"] == "track"
    )
    assert delivered == expected
    accepted_posts = [r for r in sandbox.requests() if r["path"] == "/events" and r["status"] == 202]
    assert len(accepted_posts) == 80  # each event was sent to Intercom until accepted, then never again
    assert stack.peek(parked=True) == []


def test_search_index_lag_right_after_a_create_is_waited_out(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    from tests.integration.test_intercom_client import client

    sandbox.configure(search_lag_seconds=1.5)
    # A lead made by another system (the Messenger, say): only Intercom's search can find it.
    client(stack.intercom_api_base).create_contact({"role": "lead", "email": "new@example.com"})
    cold_start(stack, **FAST_BACKOFF)
    track_by_email = {
        "type": "track",
        "anonymousId": "a1",
        "event": "Viewed",
        "messageId": "viewed",
        "context": {"traits": {"email": "new@example.com"}},
    }
    assert api.batch(track_by_email).status == 200
    (queued,) = stack.peek()
    assert queued.last_error.code == "contact_not_found"
    time.sleep(1.6)  # the index catches up
    replay_until_empty(stack)
    (event,) = sandbox.state()["events"]
    assert event["contact_id"] == sandbox.state()["contacts"][0]["id"]


def test_parked_events_are_delivered_after_the_cause_is_fixed_and_they_are_unparked(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    from intercom_destination.durability.queue import Queue
    from intercom_destination.replay.unpark import unpark

    cold_start(stack, CUSTOM_ATTRIBUTE_POLICY="strict")
    assert api.batch(identify("u1", plan="pro")).status == 200
    assert len(stack.peek(parked=True)) == 1
    cold_start(stack, CUSTOM_ATTRIBUTE_POLICY="create")  # the fix: let the destination create attributes
    sqs = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
    moved = unpark(Queue(sqs, stack.resources.parking_queue_url), Queue(sqs, stack.resources.dead_letter_queue_url))
    assert moved == 1
    assert stack.replay()["delivered"] == 1
    (contact,) = sandbox.state()["contacts"]
    assert contact["custom_attributes"] == {"plan": "pro"}
    assert stack.peek(parked=True) == []


def test_secrets_come_from_ssm_and_an_unreadable_token_queues_the_event(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """The deployed path: write keys and the Intercom token are SecureString parameters."""
    ssm = boto3.client("ssm", endpoint_url=stack.resources.endpoint)
    ssm.put_parameter(Name="/test-ssm/write-keys", Value="old-key, new-key", Type="SecureString")
    cold_start(
        stack,
        WRITE_KEYS="",
        WRITE_KEYS_PARAMETER="/test-ssm/write-keys",
        INTERCOM_ACCESS_TOKEN="",
        INTERCOM_TOKEN_PARAMETER="/test-ssm/intercom-token",  # not created yet
        **FAST_BACKOFF,
    )
    assert api.batch(identify("u1"), key="new-key").status == 200
    assert api.batch(identify("u2"), key="dev-write-key").status == 401
    (queued,) = stack.peek()
    assert queued.last_error.code == "token_unavailable"
    ssm.put_parameter(Name="/test-ssm/intercom-token", Value=DEFAULT_TOKEN, Type="SecureString")
    replay_until_empty(stack)
    assert [c["external_id"] for c in sandbox.state()["contacts"]] == ["u1"]


def test_a_missing_write_keys_parameter_is_a_503_that_names_it_not_a_500(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """No retry mends a wrong name: the answer says the destination is misconfigured, names the parameter,
    and is counted for the alarm; the SDK keeps the events meanwhile."""
    cold_start(stack, WRITE_KEYS="", WRITE_KEYS_PARAMETER="/test-ssm/missing-write-keys")
    reply = api.batch(identify("u1"))
    assert (reply.status, reply.body["code"], reply.headers["retry-after"]) == (503, "misconfigured", "5")
    assert "'/test-ssm/missing-write-keys' does not exist" in reply.body["message"]
    assert sandbox.requests() == []


def test_unreachable_ssm_is_an_outage_to_resend_later(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(
        stack, WRITE_KEYS="", WRITE_KEYS_PARAMETER="/test-ssm/write-keys", AWS_ENDPOINT_URL_SSM="http://127.0.0.1:9"
    )
    reply = api.batch(identify("u1"))
    assert (reply.status, reply.body["code"], reply.headers["retry-after"]) == (503, "unavailable", "5")
    assert sandbox.requests() == []


def test_a_message_that_keeps_failing_is_parked_by_the_queues_own_redrive_policy(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """The template's MaxReceiveCount, here 2: after two failed replays SQS moves the message itself."""
    from local.stack import provision

    strict = provision(stack.resources.endpoint, max_receive_count=2, prefix="max-receive-test")
    cold_start(
        stack,
        DEAD_LETTER_QUEUE_URL=strict.dead_letter_queue_url,
        PARKING_QUEUE_URL=strict.parking_queue_url,
        **FAST_BACKOFF,
    )
    assert api.batch(track("never-identified", "Paid", "m-1")).status == 200
    runs = [stack.replay()]
    time.sleep(1.1)
    runs.append(stack.replay())
    time.sleep(2.1)
    runs.append(stack.replay())
    assert [run["replayed"] for run in runs] == [1, 1, 0]  # the third receive hands it to the parking queue
    sqs = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
    parked = sqs.receive_message(QueueUrl=strict.parking_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [QueuedEvent.from_json(message["Body"]).message_id for message in parked] == ["m-1"]


def test_a_failed_lead_merge_is_replayed_as_the_merge_alone(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    lead = {"type": "identify", "anonymousId": "a1", "messageId": "lead", "traits": {"email": "v@example.com"}}
    assert api.batch(lead).status == 200
    sandbox.configure(faults=[{"status": 500, "path": "/contacts/merge", "times": 1}])
    assert api.batch(identify("u1", email="v@example.com")).status == 200
    (queued,) = stack.peek()
    assert (queued.step, queued.state["email"]) == ("merge", "v@example.com")
    assert len(sandbox.state()["contacts"]) == 2  # the user exists; the lead is not merged yet
    before = len(sandbox.requests())
    assert stack.replay()["delivered"] == 1
    assert [r["path"] for r in sandbox.requests()[before:]] == ["/contacts/search", "/contacts/merge"]
    (contact,) = sandbox.state()["contacts"]
    assert (contact["role"], contact["external_id"]) == ("user", "u1")


def test_a_poison_message_is_parked_and_the_run_delivers_everyone_else(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that makes the replay raise (here: a mapping bug for one person, and a body no version
    of ours wrote) is parked with its error; the innocent messages of other people are delivered in the
    same run, and the run returns a summary instead of a traceback."""
    from intercom_destination.replay import replayer

    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    for user in ("poison", "alice", "bob"):
        assert api.batch(identify(user), track(user, "Paid", f"m-{user}")).status == 200
    assert stack.depth() == 3
    sqs = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
    sqs.send_message(
        QueueUrl=stack.resources.dead_letter_queue_url,
        MessageBody="{not json",
        MessageGroupId="hand-sent",
        MessageDeduplicationId="hand-sent-1",
    )
    sandbox.configure(faults=[])
    real_map_call = replayer.map_call

    def buggy_map_call(call: Any, *args: Any) -> Any:
        if call.userId == "poison":
            raise KeyError("a mapping bug")
        return real_map_call(call, *args)

    monkeypatch.setattr(replayer, "map_call", buggy_map_call)
    summary = stack.replay()
    assert outcomes(summary) == {"replayed": 4, "delivered": 2, "requeued": 0, "parked": 2, "stale": 0, "paused_ms": 0}
    assert sorted(event["event_name"] + ":" + event["user_id"] for event in sandbox.state()["events"]) == [
        "Paid:alice",
        "Paid:bob",
    ]
    parked = {message.last_error.code: message for message in stack.peek(parked=True)}
    assert set(parked) == {"replay_error", "unreadable_message"}
    assert "KeyError" in parked["replay_error"].reason
    assert parked["replay_error"].event["userId"] == "poison"
    assert parked["unreadable_message"].event == {"unreadable_body": "{not json"}
    assert stack.depth() == 0


def at(event: dict[str, Any], message_id: str, minute: int, **traits: Any) -> dict[str, Any]:
    return {**event, "messageId": message_id, "timestamp": f"2026-11-20T10:{minute:02d}:00Z", "traits": traits}


def test_later_requests_of_a_person_queue_behind_what_is_waiting_and_replay_in_order(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    sandbox.configure(faults=[{"status": 503}])  # Intercom down: the first identify waits in the queue
    assert api.batch(at(identify("u1"), "i-old", 0, name="Old Name")).status == 200
    sandbox.configure(faults=[])
    before = len(sandbox.requests())
    assert api.batch(at(identify("u1"), "i-new", 5, name="New Name")).status == 200
    assert len(sandbox.requests()) == before  # Intercom is back, but u1's new event must not overtake
    waiting = stack.peek()
    assert [m.event["messageId"] for m in waiting] == ["i-old", "i-new"]
    assert waiting[1].last_error.code == "queued_behind"
    assert api.batch(at(identify("u2"), "i-other", 5, name="Other")).status == 200  # others are not held up
    assert stack.replay()["delivered"] == 2
    contacts = {c["external_id"]: c["name"] for c in sandbox.state()["contacts"]}
    assert contacts == {"u1": "New Name", "u2": "Other"}
    assert api.batch(at(track("u1", "Paid", "m-1"), "m-1", 6)).status == 200  # nothing waits any more
    assert len(sandbox.state()["events"]) == 1


def test_a_replay_older_than_what_was_applied_is_skipped_as_stale(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """Newer events can get through first: a group waiting for its contact lets the identify and a newer
    group pass, and after an hour (or SQS parking a message itself) a person's waiting count expires."""
    assert api.batch(at(group("u1", "acme"), "g-old", 0, tier="old")).status == 200  # no contact yet: queued
    sandbox.configure(faults=[{"status": 503}])
    assert api.batch(at(identify("u1"), "i-old", 1, name="Old Name")).status == 200  # queued (503)
    sandbox.configure(faults=[])
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.resources.table):
        for item in page["Items"]:
            if item["id"]["S"].startswith("intercom-destination#person#"):  # the hour has passed
                dynamodb.update_item(
                    TableName=stack.resources.table, Key={"id": item["id"]}, UpdateExpression="REMOVE waiting_until"
                )
    newer = [at(identify("u1"), "i-new", 5, name="New Name"), at(group("u1", "acme"), "g-new", 5, tier="new")]
    assert api.batch(*newer).status == 200
    summary = stack.replay()
    assert (summary["stale"], summary["delivered"]) == (2, 0)
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "New Name"
    (company,) = sandbox.state()["companies"]
    assert company["custom_attributes"] == {"tier": "new"}
    assert stack.depth() == 0


def test_an_old_identify_arriving_late_does_not_roll_the_contact_back(api: Api, sandbox: SandboxControl) -> None:
    """A phone flushing its offline queue: newest wins in ingest too."""
    newer = {**identify("u1", name="New Name"), "messageId": "i-new", "timestamp": "2026-11-20T10:05:00Z"}
    older = {**identify("u1", name="Old Name"), "messageId": "i-old", "timestamp": "2026-11-20T10:00:00Z"}
    assert api.batch(newer).status == 200
    before = len(sandbox.requests())
    assert api.batch(older).status == 200
    assert len(sandbox.requests()) == before  # not even a call
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "New Name"


def test_a_user_replayed_in_a_new_function_still_merges_the_lead_search_cannot_see_yet(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """The lead was made by an earlier function; the search index lags; the warm cache is gone. The
    durable lead memory still finds the lead, and the user replay merges it: one contact stays."""
    sandbox.configure(search_lag_seconds=120)
    visitor = {"type": "identify", "anonymousId": "a-1", "messageId": "i-lead", "traits": {"email": "v@example.com"}}
    assert api.batch(visitor).status == 200
    sandbox.configure(faults=[{"status": 503, "method": "POST", "path": "/contacts"}])
    signup = {**identify("u1"), "traits": {"email": "v@example.com"}}
    assert api.batch(signup).status == 200
    assert len(stack.peek()) == 1
    sandbox.configure(faults=[])
    cold_start(stack, **FAST_BACKOFF)
    assert stack.replay()["delivered"] == 1
    contacts = sandbox.state()["contacts"]
    assert [(c["role"], c["external_id"]) for c in contacts] == [("user", "u1")]


def test_a_visitors_lead_and_their_user_are_different_subjects_for_newest_wins(
    api: Api, sandbox: SandboxControl
) -> None:
    """One person (linked by email), two contacts: a newer lead identify must not make the user's
    identify (with an older time) stale."""
    lead = {"type": "identify", "anonymousId": "a1", "traits": {"email": "v@example.com"}}  # time: now
    user = {**at(identify("u1"), "i-u1", 0, email="v@example.com", name="User")}  # 2026-11-20
    assert api.batch(lead, user).status == 200
    (contact,) = sandbox.state()["contacts"]
    assert (contact["role"], contact["external_id"], contact["name"]) == ("user", "u1", "User")


def test_two_redrive_runs_at_once_never_replay_a_message_twice(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """The redrive function has no reserved concurrency (a new account's quota may not allow it): FIFO
    hides a message group while one of its messages is in flight, so concurrent runs share the work."""
    from concurrent.futures import ThreadPoolExecutor

    # The setup must deliver all 30 identifies: on a loaded machine, 30 contact creations (each validated
    # against the OpenAPI description) can outlast the default 5 s budget, and one deferred is one more message.
    cold_start(stack, DELIVERY_BUDGET_SECONDS="30", **FAST_BACKOFF)
    users = [f"u{n}" for n in range(30)]
    assert api.batch(*(identify(user) for user in users)).status == 200
    assert stack.peek() == []  # if not, what was deferred says why
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    assert api.batch(*(track(user, "Paid", f"m-{user}") for user in users)).status == 200
    assert stack.depth() == 30
    sandbox.configure(faults=[], latency_ms=50)  # 30 calls: 1.5 s, long enough for the two runs to overlap
    before = len(sandbox.requests())
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: stack.replay(), range(2)))
    assert sum(run["delivered"] for run in runs) == 30
    assert all(run["delivered"] > 0 for run in runs)  # both runs did part of the work
    posts = [r for r in sandbox.requests()[before:] if r["method"] == "POST" and r["path"] == "/events"]
    assert len(posts) == 30
    assert stack.depth() == 0


def test_a_rate_limited_replay_pauses_for_the_window_and_keeps_a_share_for_live_traffic(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """Intercom allows 5 calls per 2 s here. The run waits for each window instead of ending at the first
    limit, never spends the last call of a window (20 % is live traffic's), and keeps the person's order."""
    assert api.batch(*(track("late", f"E{i}", f"m-{i}") for i in range(8))).status == 200  # no contact yet
    assert api.batch(identify("late")).status == 200
    sandbox.configure(rate_limit=5, window_seconds=2)
    cold_start(stack, **FAST_BACKOFF)
    # A new function has seen no rate-limit headers yet: start in a fresh window, not one the setup's calls
    # already used up (that first 429 is one no header could have prevented).
    time.sleep(2 - time.time() % 2 + 0.05)
    before = len(sandbox.requests())
    summary = stack.replay()
    assert (summary["delivered"], summary["requeued"]) == (8, 0)
    assert summary["paused_ms"] > 0
    statuses = [r["status"] for r in sandbox.requests()[before:]]
    assert 429 not in statuses
    assert [e["event_name"] for e in sandbox.state()["events"]] == [f"E{i}" for i in range(8)]  # as they arrived


def test_a_replay_runs_people_side_by_side_and_each_person_in_order(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    people = [f"p{n}" for n in range(12)]
    for person in people:  # tracks before the identify: each person's two wait in the queue
        assert api.batch(track(person, "First", f"{person}-1"), track(person, "Second", f"{person}-2")).status == 200
        assert api.batch(identify(person)).status == 200
    sandbox.configure(latency_ms=150)
    cold_start(stack, **FAST_BACKOFF)
    before = len(sandbox.requests())
    assert stack.replay()["delivered"] == 24
    starts = sorted(r["at"] for r in sandbox.requests()[before:] if r["path"] == "/events")
    overlapping = sum(1 for a, b in itertools.pairwise(starts) if b - a < 0.1)  # began while one was in flight
    assert overlapping >= 6
    for person in people:
        names = [e["event_name"] for e in sandbox.state()["events"] if e.get("user_id") == person]
        assert names == ["First", "Second"], person


def test_the_local_queue_never_hands_one_message_to_two_receivers_at_once(stack: Stack) -> None:
    """SQS hides a received message from every other receiver; moto's receive did not lock, and two
    redrive runs at once replayed one message twice (local.stack serializes moto's receives)."""
    from concurrent.futures import ThreadPoolExecutor

    sqs = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
    url = sqs.create_queue(QueueName="receivers-race.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    try:
        for start in range(0, 200, 10):
            entries: list[Any] = [
                {"Id": str(n), "MessageBody": str(n), "MessageGroupId": f"g{n}", "MessageDeduplicationId": str(n)}
                for n in range(start, start + 10)
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

        def receive_all(_: int) -> list[str]:
            client = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
            bodies: list[str] = []
            while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                bodies += [message["Body"] for message in batch]
            return bodies

        switching = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # moto serves in this process: switch threads often, as a loaded machine does
        try:
            with ThreadPoolExecutor(6) as pool:
                received = [body for bodies in pool.map(receive_all, range(6)) for body in bodies]
        finally:
            sys.setswitchinterval(switching)
        assert sorted(received, key=int) == [str(n) for n in range(200)]  # each once, none twice
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_a_message_that_keeps_failing_is_parked_after_its_failed_tries_not_its_receives(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """REDRIVE_MAX_REPLAYS, here 2, counts failed tries of the message (SQS's receive count also counts
    receives that tried nothing): the second failure parks it, with how many tries it had."""
    cold_start(stack, REDRIVE_MAX_REPLAYS="2", **FAST_BACKOFF)
    assert api.batch(track("never-identified", "Paid", "m-1")).status == 200
    assert outcomes(stack.replay()) | {"paused_ms": 0} == {
        "replayed": 1, "delivered": 0, "requeued": 1, "parked": 0, "stale": 0, "paused_ms": 0,
    }  # fmt: skip
    time.sleep(1.1)
    assert stack.replay()["parked"] == 1
    (parked,) = stack.peek(parked=True)
    assert parked.message_id == "m-1"
    assert parked.reason.startswith("contact_not_found: after 2 tries:")


def test_ten_of_the_largest_events_in_emoji_are_queued_together(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Events at the largest MaxEventBytes (256 KB, counted as UTF-8 at intake) of emoji, CJK and characters
    SQS refuses raw: queued as UTF-8 (escaped, an emoji was 12 bytes, and ten such messages made one
    SendMessageBatch of 7 MB, refused whole, 503 on every resend), in batches under SQS's 1 MiB."""
    cold_start(stack, MAX_EVENT_BYTES="262144", MAX_BATCH_BYTES="6000000")
    assert api.batch(identify("u1")).status == 200
    sandbox.configure(faults=[{"status": 503, "path": "/events"}])
    texts = ["😀" * 60_000, "山田" * 40_000, "\uffff\u2028\x7f" * 30_000]
    events = [{**track("u1", "Big", f"big-{n}"), "properties": {"note": texts[n % 3]}} for n in range(10)]
    reply = api.batch(*events)
    assert reply.status == 200, reply.body
    assert stack.depth() == 10
    assert [message.event["properties"]["note"] for message in stack.peek()] == [
        e["properties"]["note"] for e in events
    ]
