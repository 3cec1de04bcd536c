"""A visitor's lead joins the user they become (#12 part 2), through HTTP, the real handler, the sandbox
and moto: by alias (previousId → userId) or by an identify carrying both ids; a visitor we made no lead
for costs no call; the merge is queued and replayed like any action, and survives a new function."""

from __future__ import annotations

from typing import Any

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start, handled, outcomes


def visitor(anonymous_id: str, email: str) -> dict[str, Any]:
    """What a site sends when a visitor leaves an email before signing up: a lead, and an event of theirs."""
    return {"type": "identify", "anonymousId": anonymous_id, "traits": {"email": email}}


def pre_signup_event(anonymous_id: str, email: str) -> dict[str, Any]:
    return {"type": "track", "anonymousId": anonymous_id, "event": "Viewed Pricing", "properties": {"email": email}}


def alias(previous: str, user: str) -> dict[str, Any]:
    return events.alias(previous, user, f"alias-{previous}-{user}")


def live(sandbox: SandboxControl) -> list[dict[str, Any]]:
    return sandbox.state()["contacts"]  # merged-away leads are not live


def merges(sandbox: SandboxControl) -> list[int]:
    return [r["status"] for r in sandbox.requests() if (r["method"], r["path"]) == ("POST", "/contacts/merge")]


def test_an_alias_folds_the_visitors_lead_and_its_history_into_a_new_user(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(visitor("anon-1", "v@example.com"), pre_signup_event("anon-1", "v@example.com")).status == 200
    (lead,) = live(sandbox)
    assert lead["role"] == "lead"
    assert api.batch(alias("anon-1", "u-1")).status == 200
    (user,) = live(sandbox)
    assert (user["role"], user["external_id"]) == ("user", "u-1")  # created first: Intercom had no u-1
    assert merges(sandbox) == [200]
    assert [event["contact_id"] for event in sandbox.state()["events"]] == [user["id"]]  # history kept


def test_an_identify_with_both_ids_folds_the_lead_even_under_another_email(api: Api, sandbox: SandboxControl) -> None:
    """The identify vouches they are one person: Intercom's same-email check is skipped for this merge."""
    assert api.batch(visitor("anon-2", "old@example.com")).status == 200
    signup = {"type": "identify", "userId": "u-2", "anonymousId": "anon-2", "traits": {"email": "new@example.com"}}
    assert api.batch(signup).status == 200
    (user,) = live(sandbox)
    assert (user["external_id"], user["email"]) == ("u-2", "new@example.com")
    assert merges(sandbox) == [200]


def test_a_visitor_we_made_no_lead_for_costs_no_call_and_is_counted(api: Api, sandbox: SandboxControl) -> None:
    """Counted as the metric `alias.no_lead` (the handler emits each answer's counts)."""
    answer = handled(alias("never-seen", "u-3"))
    assert (answer.status, answer.counts) == (200, {"alias.no_lead": 1})
    assert sandbox.requests() == []
    assert api.batch(alias("never-seen", "u-3")).status == 200  # and over HTTP: a duplicate now


def test_the_lead_and_the_alias_in_one_batch_are_handled_in_order(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(visitor("anon-4", "four@example.com"), alias("anon-4", "u-4")).status == 200
    (user,) = live(sandbox)
    assert user["external_id"] == "u-4"
    assert merges(sandbox) == [200]


def test_a_new_function_finds_the_lead_in_the_durable_memory(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    """Search lags creation: only the lead memory (DynamoDB) knows the lead once the warm cache is gone."""
    sandbox.configure(search_lag_seconds=600)
    assert api.batch(visitor("anon-5", "five@example.com")).status == 200
    cold_start(stack)
    assert Api(stack.url).batch(alias("anon-5", "u-5")).status == 200
    assert [contact["external_id"] for contact in live(sandbox)] == ["u-5"]


def test_a_failed_merge_is_queued_and_replayed_once(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    assert api.batch(visitor("anon-6", "six@example.com")).status == 200
    sandbox.configure(faults=[{"status": 503, "path": "/contacts/merge"}])
    assert api.batch(alias("anon-6", "u-6")).status == 200
    (queued,) = stack.peek()
    assert (queued.action, queued.mapped_by["name"]) == ("alias", "Merge Lead")
    sandbox.configure(faults=[])
    assert outcomes(stack.replay()) == {
        "replayed": 1, "delivered": 1, "requeued": 0, "parked": 0, "stale": 0, "paused_ms": 0,
    }  # fmt: skip
    assert [contact["external_id"] for contact in live(sandbox)] == ["u-6"]
    tried = merges(sandbox)
    assert tried[-1] == 200
    assert set(tried[:-1]) == {503}  # the client's own retries at ingest, then the replay
    assert api.batch(alias("anon-6", "u-6")).status == 200  # the SDK's resend: a duplicate, nothing sent
    assert merges(sandbox) == tried


def test_an_alias_finds_the_lead_by_the_email_it_carries(api: Api, sandbox: SandboxControl) -> None:
    """The visitor's anonymousId changed (another device), but the alias carries the email they left."""
    assert api.batch(visitor("anon-7", "seven@example.com")).status == 200
    moved = {**alias("anon-other-device", "u-7"), "context": {"traits": {"email": "seven@example.com"}}}
    assert api.batch(moved).status == 200
    assert [contact["external_id"] for contact in live(sandbox)] == ["u-7"]
    assert merges(sandbox) == [200]
