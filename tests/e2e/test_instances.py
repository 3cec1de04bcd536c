"""The local stack in Lambda's shape: several warm instances of the ingest function, each its own process
with its own memory, behind one endpoint; an instance killed mid-request is a crash the caller sees as 500."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import InstancesApi


def identify(user: str, message_id: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "messageId": message_id, "traits": traits}


def test_requests_go_round_robin_or_where_asked_and_each_answer_names_its_instance(
    instances: InstancesApi, sandbox: SandboxControl
) -> None:
    listing: Any = instances.request("GET", "/_dev/instances").body
    assert [entry["instance"] for entry in listing] == [1, 2]
    assert len({entry["pid"] for entry in listing}) == 2
    answered = [instances.batch(identify("u1", f"m-{n}")).headers["x-dev-instance"] for n in range(4)]
    assert sorted(answered) == ["1", "1", "2", "2"]
    assert instances.on(2, identify("u1", "m-5")).status == 200
    assert instances.batch(identify("u1", "m-6"), headers={"X-Dev-Instance": "3"}).status == 400


@pytest.mark.instance_settings(DELIVERY_BUDGET_SECONDS="2", INTERCOM_READ_TIMEOUT="1")
def test_an_instance_killed_mid_request_loses_nothing_and_doubles_nothing(
    instances: InstancesApi, stack: Stack, sandbox: SandboxControl
) -> None:
    """Killed after its claims, while Intercom is slow: the caller gets 500; the SDK's resend of the batch
    to another instance is refused (503, claims held) until the dead request's claims lapse (budget +
    read timeout + 5 s), then accepted once; Intercom has each event once."""
    batch = [
        identify("u1", "crash-1", plan="pro"),
        {"type": "track", "userId": "u1", "event": "Paid", "messageId": "crash-2", "timestamp": "2026-12-01T10:00:00Z"},
    ]
    assert instances.on(1, identify("u1", "warm-1")).status == 200  # a warm instance, a known contact
    victim = instances.running.listing()[0]["pid"]
    sandbox.configure(latency_ms=1500)
    answers: list[Any] = []
    sending = threading.Thread(target=lambda: answers.append(instances.on(1, *batch)))
    sending.start()
    time.sleep(0.8)  # claimed, its first Intercom call in flight
    instances.running.kill(1)
    sending.join()
    assert (answers[0].status, answers[0].body) == (500, {"message": "Internal Server Error"})
    sandbox.configure(latency_ms=0)
    started = time.monotonic()
    while (resent := instances.on(2, *batch)).status == 503:
        assert resent.headers.get("retry-after")
        assert time.monotonic() - started < 15
        time.sleep(0.5)
    waited = time.monotonic() - started
    assert resent.status == 200
    assert waited > 4  # the dead request's claims held the events until they lapsed
    state = sandbox.state()
    (contact,) = state["contacts"]
    assert contact["custom_attributes"] == {"plan": "pro"}
    assert [event["event_name"] for event in state["events"]] == ["Paid"]
    assert instances.on(2, *batch).status == 200  # and now a duplicate
    assert len(sandbox.state()["events"]) == 1
    assert instances.running.listing()[0]["pid"] not in (None, victim)  # a cold instance took its place
    assert instances.on(1, identify("u1", "after-1")).status == 200
