"""One person is one contact across their ids and across requests (#19 §5): a visitor's identify queued in
an outage, then their signup in another request, and the reverse; with Intercom's search lagging (as it
does for minutes after a create) and without."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import Api, cold_start

EMAIL = "v@example.com"
OUTAGE = [{"status": 503, "path": ".*"}]


def visitor(second: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "anonymousId": "anon-1",
        "messageId": "visitor-1",
        "timestamp": f"2026-12-01T10:00:{second:02d}Z",
        "traits": {"email": EMAIL, "plan": "visitor"},
    }


def signup(second: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": "u-1",
        "anonymousId": "anon-1",
        "messageId": "signup-1",
        "timestamp": f"2026-12-01T10:00:{second:02d}Z",
        "traits": {"email": EMAIL, "plan": "paid"},
    }


def replay_all(stack: Stack) -> None:
    for _ in range(5):
        stack.replay()
        if stack.depth() == 0:
            return
        time.sleep(1.1)  # the backoff of a message that failed again
    pytest.fail("the queue did not drain")


def the_one_contact(sandbox: SandboxControl) -> dict[str, Any]:
    contacts = sandbox.state()["contacts"]
    assert [(c["role"], c["external_id"], c["email"]) for c in contacts] == [("user", "u-1", EMAIL)]
    return contacts[0]


@pytest.fixture
def fast(stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, REDRIVE_BACKOFF_SECONDS="1")


@pytest.mark.parametrize("search_lag", [0, 600], ids=["search-current", "search-lagging"])
def test_a_signup_after_the_visitors_identify_was_queued_waits_behind_it(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None, search_lag: int
) -> None:
    """The signup carries the visitor's anonymousId: their record says an event of theirs waits in the
    queue, so the signup waits behind it. Replayed in order, the lead is made, then folded into the user:
    one contact, with the signup's (newer) traits."""
    sandbox.configure(search_lag_seconds=search_lag, faults=OUTAGE)
    assert api.batch(visitor(1)).status == 200  # queued
    sandbox.configure(search_lag_seconds=search_lag, faults=[])
    assert api.batch(signup(2)).status == 200
    replay_all(stack)
    assert the_one_contact(sandbox)["custom_attributes"] == {"plan": "paid"}


@pytest.mark.parametrize("search_lag", [0, 600], ids=["search-current", "search-lagging"])
def test_an_older_visitor_identify_after_a_queued_signup_waits_behind_it_and_is_stale(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None, search_lag: int
) -> None:
    """The reverse: the signup is queued, then the visitor's older identify arrives (an offline queue
    flushed late). It waits behind the signup and, replayed after it, is older than what the signup wrote
    to the contact that email names: skipped, never a second contact or a roll-back."""
    sandbox.configure(search_lag_seconds=search_lag, faults=OUTAGE)
    assert api.batch(signup(2)).status == 200  # queued
    sandbox.configure(search_lag_seconds=search_lag, faults=[])
    assert api.batch(visitor(1)).status == 200
    assert sandbox.state()["contacts"] == []  # waited behind the signup
    replay_all(stack)
    assert the_one_contact(sandbox)["custom_attributes"] == {"plan": "paid"}


def test_an_older_visitor_identify_after_a_delivered_signup_is_stale(
    api: Api, stack: Stack, sandbox: SandboxControl, fast: None
) -> None:
    """No outage: the signup went through, then the visitor's older identify arrives in a new function.
    Its anonymousId and email lead to the user's record, which says the contact of that email was written
    later: skipped, not written over the user's traits."""
    assert api.batch(signup(2)).status == 200
    cold_start(stack)
    before = len(sandbox.requests())
    assert api.batch(visitor(1)).status == 200
    assert [r["path"] for r in sandbox.requests()[before:] if r["path"].startswith("/contacts")] == []
    assert the_one_contact(sandbox)["custom_attributes"] == {"plan": "paid"}
