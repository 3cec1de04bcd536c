"""The identity map: repeat calls cost what the issue promises, warm and in a new function, and skipping
an unchanged write never loses a change (checked against the sandbox's state, through the real handler)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start

_ids = itertools.count()


def identify(user: str = "u1", **traits: Any) -> dict[str, Any]:
    return events.identify(user, f"i-{next(_ids)}", **traits)


def group(user: str | None = "u1", company: str = "acme", **traits: Any) -> dict[str, Any]:
    return events.group(user, company, f"g-{next(_ids)}", **traits)


def track(user: str | None = "u1", email: str | None = None) -> dict[str, Any]:
    if user:
        return events.track(user, "Viewed", f"t-{next(_ids)}")
    by_email = {"anonymousId": "anon", "context": {"traits": {"email": email}}, "properties": {"email": email}}
    return events.track(None, "Viewed", f"t-{next(_ids)}", **by_email)


def calls_during(sandbox: SandboxControl, send: Any) -> list[str]:
    before = len(sandbox.requests())
    send()
    return [f"{r['method']} {r['path'].split('/')[1]}" for r in sandbox.requests()[before:]]


def test_a_batch_of_more_new_people_than_delivery_lanes_is_answered(api: Api, sandbox: SandboxControl) -> None:
    """25 new people, each with an email (so each record links another name), on 16 lanes: writing the
    records used to fan out inside a fan-out on the same pool and wait forever (answered 503 at the budget,
    and the instance's pool stuck for good)."""
    batch = [identify(f"lane-{n}", email=f"lane-{n}@example.com") for n in range(25)]
    for _ in range(2):  # the second request would find the pool's workers still stuck
        reply = api.batch(*batch)
        assert (reply.status, reply.body) == (200, {"success": True})
    assert len(sandbox.state()["contacts"]) == 25


def test_repeat_traffic_costs_nothing_but_the_event_warm_and_in_a_new_function(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    traits = {"email": "ada@example.com", "name": "Ada", "plan": "pro"}
    assert api.batch(identify(**traits), group(name="Acme", plan="gold"), track()).status == 200
    for new_function in (False, True):
        if new_function:
            cold_start(stack)  # the warm map is gone: the person record brings it back
        spent = calls_during(sandbox, lambda: api.batch(identify(**traits), group(name="Acme", plan="gold"), track()))
        # A new function lists the custom attributes once per model (then every ten minutes), not per event.
        assert [call for call in spent if call != "GET data_attributes"] == ["POST events"], new_function
        assert spent.count("GET data_attributes") <= (2 if new_function else 0)
    (contact,) = sandbox.state()["contacts"]
    assert contact["name"] == "Ada"


def test_last_seen_alone_moves_once_per_window(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    first = {**identify(name="Ada"), "timestamp": "2026-11-27T10:00:00Z"}
    later = {**identify(name="Ada"), "timestamp": "2026-11-27T10:20:00Z"}
    assert api.batch(first).status == 200
    assert calls_during(sandbox, lambda: api.batch(later)) == []  # within the window: coalesced
    cold_start(stack, UNCHANGED_WRITE_WINDOW_SECONDS="0")  # a window of 0 writes every call
    assert calls_during(sandbox, lambda: api.batch({**later, "messageId": "again"})) == ["PUT contacts"]
    (contact,) = sandbox.state()["contacts"]
    assert contact["last_seen_at"] == 1795774800  # 10:20 UTC


def test_a_known_company_costs_only_the_attach_of_a_new_member(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(identify("u1"), identify("u2"), group("u1", name="Acme")).status == 200
    cold_start(stack)
    assert calls_during(sandbox, lambda: api.batch(group("u2", name="Acme"))) == ["POST companies", "POST contacts"]
    # u2's record had no company yet (the upsert), the attach is new; the same again is free:
    assert calls_during(sandbox, lambda: api.batch(group("u2", name="Acme"))) == []
    (company,) = sandbox.state()["companies"]
    assert company["user_count"] == 2


def test_a_track_by_email_in_a_new_function_needs_no_search(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    lead = {"type": "identify", "anonymousId": "anon", "messageId": "lead", "traits": {"email": "v@example.com"}}
    assert api.batch(lead).status == 200
    cold_start(stack)
    spent = calls_during(sandbox, lambda: api.batch({**track(None, "v@example.com"), "anonymousId": "anon"}))
    assert spent == ["POST events"]


def test_a_contact_deleted_in_intercom_is_created_again_by_the_next_identify(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """The map said "written, unchanged"; a 404 on the track proves it wrong, so the identical identify
    that follows writes again, in this function and in a new one."""
    assert api.batch(identify(name="Ada"), group(name="Acme")).status == 200
    sandbox.reset()  # the workspace lost the contact and the company
    assert api.batch(track()).status == 200  # 404: queued until the contact exists, and the map forgets it
    cold_start(stack)
    assert api.batch(identify(name="Ada"), group(name="Acme")).status == 200
    state = sandbox.state()
    (contact,) = state["contacts"]
    (company,) = state["companies"]
    assert (contact["name"], company["user_count"]) == ("Ada", 1)


def test_a_remembered_company_that_intercom_lost_is_upserted_again(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    assert api.batch(identify("u1"), group("u1", name="Acme")).status == 200
    cold_start(stack)
    contacts = sandbox.state()["contacts"]
    sandbox.reset()
    assert api.batch(identify("u2", name="B")).status == 200
    spent = calls_during(sandbox, lambda: api.batch(group("u2", name="Acme")))
    assert spent == ["POST companies", "POST contacts"]
    assert len(contacts) == 1
    (company,) = sandbox.state()["companies"]
    assert company["name"] == "Acme"


def test_a_replayed_identify_updates_the_map_so_an_older_body_is_not_skipped(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    """Ingest wrote A; the redrive then wrote B. A new function getting A again must write it: the map
    follows the redrive's writes."""
    assert api.batch({**identify(name="A"), "timestamp": "2026-11-27T10:00:00Z"}).status == 200
    sandbox.configure(faults=[{"status": 503, "method": "PUT"}])
    assert api.batch({**identify(name="B"), "timestamp": "2026-11-27T10:01:00Z"}).status == 200  # queued
    sandbox.configure(faults=[])
    cold_start(stack, REDRIVE_BACKOFF_SECONDS="1")
    assert stack.replay()["delivered"] == 1
    assert sandbox.state()["contacts"][0]["name"] == "B"
    cold_start(stack)
    assert api.batch({**identify(name="A"), "timestamp": "2026-11-27T10:02:00Z"}).status == 200
    assert sandbox.state()["contacts"][0]["name"] == "A"


def test_two_concurrent_identifies_of_a_new_user_make_one_contact(api: Api, sandbox: SandboxControl) -> None:
    sandbox.configure(latency_ms=50)
    replies = []
    threads = [
        threading.Thread(target=lambda n=n: replies.append(api.batch(identify("new", name=f"N{n}")))) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reply.status for reply in replies] == [200] * 4
    (contact,) = sandbox.state()["contacts"]
    assert contact["external_id"] == "new"


TRAITS = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["Ada", "Grace", ""]),
        "email": st.sampled_from(["a@example.com", "b@example.com"]),
        "plan": st.sampled_from(["free", "pro", 3]),
        "seats": st.integers(0, 2),
    },
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(sequence=st.lists(st.tuples(TRAITS, st.booleans()), min_size=1, max_size=6))
def test_skipping_never_loses_a_change(
    api: Api, stack: Stack, sandbox: SandboxControl, sequence: list[tuple[dict[str, Any], bool]]
) -> None:
    """After every identify, each field it sent is what Intercom holds, whatever came before and whether
    or not the function was new (its map then comes from the person record)."""
    sandbox.reset()
    user = f"p-{next(_ids)}"
    for traits, new_function in sequence:
        if new_function:
            cold_start(stack)
        assert api.batch(identify(user, **traits)).status == 200
        (contact,) = [c for c in sandbox.state()["contacts"] if c["external_id"] == user]
        if traits.get("name"):
            assert contact["name"] == traits["name"]
        if "email" in traits:
            assert contact["email"] == traits["email"]
        for name in ("plan", "seats"):
            if name in traits:
                assert contact["custom_attributes"][name] == traits[name], (name, sequence)


def test_one_update_per_person_never_rolls_back_a_newer_version(stack: Stack, sandbox: SandboxControl) -> None:
    """The version of one subject and identity entries go in one update; when a concurrent request recorded
    a newer version of that subject meanwhile, the older one is not written, the rest still is."""
    import boto3
    from intercom_destination.delivery.identity import Entry
    from intercom_destination.durability.people import People
    from intercom_destination.durability.records import Remembered, Version

    people = People(boto3.client("dynamodb", endpoint_url=stack.resources.endpoint), stack.resources.table)
    people.remember(
        [Remembered("p", [Version("user:a", 2_000)], {"company:g": Entry("co-2", 900)})]
    )  # concurrent, newer
    learned = {"user:a": Entry("contact-1", 100), "company:g": Entry("co-1", 800)}
    people.remember([Remembered("p", [Version("user:a", 1_000), Version("group:g", 1_500)], learned)])
    record = people.read(["p"])["p"]
    assert record.is_stale(Version("user:a", 1_999))  # 2,000 kept
    assert record.is_stale(Version("group:g", 1_499))
    assert record.recalled(["user:a", "company:g"]) == {
        "user:a": Entry("contact-1", 100),
        "company:g": Entry("co-2", 900),
    }
    people.remember(
        [Remembered("p", [], {"user:a": Entry("", 200)})]
    )  # proven wrong later: a tombstone every function reads
    assert people.read(["p"])["p"].recalled(["user:a"]) == {"user:a": Entry("", 200)}
