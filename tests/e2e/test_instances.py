"""The local stack in Lambda's shape: several warm instances of the ingest function, each its own process
with its own memory, behind one endpoint; an instance killed mid-request is a crash the caller sees as 500."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3

from local.sandbox import DEFAULT_TOKEN, SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import InstancesApi


def identify(user: str, message_id: str, **traits: Any) -> dict[str, Any]:
    return events.identify(user, message_id, **traits)


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


def dated(event: dict[str, Any], seconds_ago: float) -> dict[str, Any]:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {**event, "timestamp": moment.isoformat().replace("+00:00", "Z")}


def test_an_instances_memory_never_overrides_what_another_wrote_later_for_a_contact(
    instances: InstancesApi, sandbox: SandboxControl
) -> None:
    """pro on 1, free on 2, pro (newest) on 1: instance 1 remembers writing pro, but the person record says
    free was written after that, so pro is written again."""
    for instance, plan, ago in ((1, "pro", 30), (2, "free", 20), (1, "pro", 10)):
        assert instances.on(instance, dated(identify("u1", f"plan-{plan}-{ago}", plan_tier=plan), ago)).status == 200
        (contact,) = sandbox.state()["contacts"]
        assert contact["custom_attributes"] == {"plan_tier": plan}, (instance, plan)


def test_an_instances_memory_never_overrides_what_another_wrote_later_for_a_company(
    instances: InstancesApi, sandbox: SandboxControl
) -> None:
    assert instances.on(1, identify("u1", "i-1")).status == 200
    for instance, plan, ago in ((1, "enterprise", 30), (2, "starter", 20), (1, "enterprise", 10)):
        event = {"type": "group", "userId": "u1", "groupId": "acme", "messageId": f"g-{plan}-{ago}"}
        assert instances.on(instance, dated({**event, "traits": {"plan": plan}}, ago)).status == 200
        (company,) = sandbox.state()["companies"]
        assert company["plan"]["name"] == plan, (instance, plan)


def test_a_contact_re_created_by_another_instance_is_attached_again(
    instances: InstancesApi, sandbox: SandboxControl
) -> None:
    """Instance 1 attached contact C1 to acme. C1 is deleted in Intercom; instance 2 re-creates the user
    (C2). Instance 1's memory says "u1 is C1, attached": the record says u1 is C2 since, so C2 is attached."""
    group = {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}}
    assert instances.on(1, identify("u1", "i-1", plan="a"), {**group, "messageId": "g-1"}).status == 200
    (first,) = sandbox.state()["contacts"]
    intercom = urllib3.PoolManager()
    deleted = intercom.request(
        "DELETE",
        f"{sandbox.url}/contacts/{first['id']}",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"},
    )
    assert deleted.status == 200
    assert instances.on(2, identify("u1", "i-2", plan="b")).status == 200  # 404 on C1: re-created as C2
    (second,) = sandbox.state()["contacts"]
    assert second["id"] != first["id"]
    assert instances.on(1, {**group, "messageId": "g-2"}).status == 200
    (company,) = sandbox.state()["companies"]
    assert company["user_count"] == 1
    assert [c["id"] for c in sandbox.state()["contacts"][0]["companies"]["data"]] == [company["id"]]
