"""Browser keys (#20 §6): a write key shipped in a web page is public. A WRITE_KEYS entry marked
`<key>:browser` may send what cannot hand one person's contact to another: no alias (it merges
contacts), no preview, and an identify never changes the email of a user who exists; it is rate-limited
per source address. Server keys keep everything."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import WRITE_KEY, Api, cold_start

BROWSER_KEY = "pk-browser-key"


@pytest.fixture
def keys(stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, WRITE_KEYS=f"{WRITE_KEY},{BROWSER_KEY}:browser", REDRIVE_BACKOFF_SECONDS="1")


def identify(email: str, plan: str, message_id: str) -> dict[str, Any]:
    return events.identify("u-1", message_id, email=email, plan=plan)


def the_contact(sandbox: SandboxControl) -> tuple[str, str]:
    (contact,) = sandbox.state()["contacts"]
    return contact["email"], contact["custom_attributes"]["plan"]


def test_a_browser_key_creates_a_user_with_an_email(api: Api, sandbox: SandboxControl, keys: None) -> None:
    assert api.batch(identify("ada@example.com", "free", "m-1"), key=BROWSER_KEY).status == 200
    assert the_contact(sandbox) == ("ada@example.com", "free")


@pytest.mark.parametrize("warm", [True, False], ids=["known-user", "new-function"])
def test_a_browser_key_never_changes_an_existing_users_email(
    api: Api, stack: Stack, sandbox: SandboxControl, keys: None, warm: bool
) -> None:
    """Known to this function (an update) or not (a create that Intercom answers 409, then an update): the
    other traits change, the email stays. A server key changes it."""
    assert api.batch(identify("ada@example.com", "free", "m-1")).status == 200
    if not warm:
        cold_start(stack, WRITE_KEYS=f"{WRITE_KEY},{BROWSER_KEY}:browser")
    assert api.batch(identify("attacker@example.com", "pro", "m-2"), key=BROWSER_KEY).status == 200
    assert the_contact(sandbox) == ("ada@example.com", "pro")
    assert api.batch(identify("ada.new@example.com", "pro", "m-3")).status == 200
    assert the_contact(sandbox) == ("ada.new@example.com", "pro")


def test_a_queued_browser_identify_is_replayed_with_the_same_limit(
    api: Api, stack: Stack, sandbox: SandboxControl, keys: None
) -> None:
    assert api.batch(identify("ada@example.com", "free", "m-1")).status == 200
    sandbox.configure(faults=[{"status": 503, "method": "PUT", "path": "/contacts/.*"}])
    assert api.batch(identify("attacker@example.com", "pro", "m-2"), key=BROWSER_KEY).status == 200  # queued
    sandbox.configure(faults=[])
    cold_start(stack, WRITE_KEYS=f"{WRITE_KEY},{BROWSER_KEY}:browser", REDRIVE_BACKOFF_SECONDS="1")
    time.sleep(1.1)
    assert stack.replay()["delivered"] == 1
    assert the_contact(sandbox) == ("ada@example.com", "pro")


def test_a_browser_key_may_not_alias_and_the_rest_of_the_batch_goes_on(
    api: Api, sandbox: SandboxControl, keys: None
) -> None:
    alias = {"type": "alias", "previousId": "visitor-1", "userId": "u-1", "messageId": "a-1"}
    track = {"type": "track", "userId": "u-1", "event": "Viewed", "messageId": "t-1"}
    assert api.batch(identify("ada@example.com", "free", "m-1")).status == 200
    reply = api.batch(alias, track, key=BROWSER_KEY)
    assert reply.status == 400
    (error,) = reply.body["errors"]
    assert (error["index"], error["field"]) == (0, "type")
    assert "browser key" in error["message"]
    assert [event["event_name"] for event in sandbox.state()["events"]] == ["Viewed"]
    assert api.batch(alias).status == 200  # a server key may


def test_a_browser_key_may_not_preview(api: Api, sandbox: SandboxControl, keys: None) -> None:
    track = {"type": "track", "userId": "u-1", "event": "Viewed"}
    refused = api.post("/v1/preview", track, key=BROWSER_KEY)
    assert (refused.status, refused.body["code"]) == (403, "forbidden")
    assert api.post("/v1/preview", track).status == 200


def test_a_browser_key_is_rate_limited_per_address(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    cold_start(stack, WRITE_KEYS=f"{WRITE_KEY},{BROWSER_KEY}:browser", BROWSER_REQUESTS_PER_MINUTE="3")
    page = {"type": "page", "userId": "u-1", "name": "Home"}
    assert [api.batch(page, key=BROWSER_KEY).status for _ in range(3)] == [200, 200, 200]
    limited = api.batch(page, key=BROWSER_KEY)
    assert (limited.status, limited.body["code"]) == (429, "rate_limited")
    assert limited.headers.get("retry-after")
    assert api.batch(page).status == 200  # a server key is not limited here
