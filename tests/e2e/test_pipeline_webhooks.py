"""Hosted pipelines' webhook destinations, as their code sends: Segment's Webhooks (Actions) posts one
event or, batched, a JSON array of them, signed in `X-Signature` (hex HMAC-SHA1 of the body under the
shared secret) with the method the user picked; Customer.io's webhook destination sends the same shapes
with a custom `Authorization` header. Through HTTP, the adapter and the real handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import WRITE_KEY, Api, cold_start

SECRETS = "old-secret,new-secret"  # a rotation: both sign for now
NEW = SECRETS.split(",")[1]


@pytest.fixture
def webhooks(stack: Stack, sandbox: SandboxControl) -> Api:
    cold_start(stack, WEBHOOK_SECRETS=SECRETS)
    return Api(stack.url)


def signed(body: Any, secret: str = NEW) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()  # what the sender signs is what it sends
    signature = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Signature": signature}


def identify(user: str) -> dict[str, Any]:
    return events.identify(user, f"i-{user}", email=f"{user}@example.com")


def track(user: str, name: str = "Paid") -> dict[str, Any]:
    return events.track(user, name, f"t-{user}-{name}")


def test_segment_batched_webhook_signed_with_either_secret(webhooks: Api, sandbox: SandboxControl) -> None:
    raw, headers = signed([identify("w1"), track("w1")], "old-secret")
    assert webhooks.request("POST", "/v1/webhook", raw, headers).status == 200
    state = sandbox.state()
    assert [c["external_id"] for c in state["contacts"]] == ["w1"]
    assert [e["event_name"] for e in state["events"]] == ["Paid"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_segment_single_event_webhook_by_put_or_patch(webhooks: Api, sandbox: SandboxControl, method: str) -> None:
    assert webhooks.request("POST", "/v1/webhook", *signed(identify("w2"))).status == 200
    assert webhooks.request(method, "/v1/webhook", *signed(track("w2", method))).status == 200
    assert [e["event_name"] for e in sandbox.state()["events"]] == [method]


def test_a_signature_of_other_bytes_or_another_secret_is_refused(webhooks: Api, sandbox: SandboxControl) -> None:
    _, headers = signed(identify("w3"))
    spaced = json.dumps(identify("w3"), indent=1).encode()  # the same JSON, other bytes
    assert webhooks.request("POST", "/v1/webhook", spaced, headers).status == 401
    forged = webhooks.request("POST", "/v1/webhook", *signed(identify("w3"), "guessed"))
    assert (forged.status, forged.body["code"]) == (401, "unauthorized")
    assert sandbox.state()["contacts"] == []


def test_customerio_webhook_with_a_custom_authorization_header(webhooks: Api, sandbox: SandboxControl) -> None:
    basic = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    body = json.dumps({"batch": [identify("w4"), track("w4")]}).encode()
    reply = webhooks.request("POST", "/v1/webhook", body, {"Authorization": basic, "Content-Type": "application/json"})
    assert reply.status == 200
    assert [e["event_name"] for e in sandbox.state()["events"]] == ["Paid"]


def test_a_webhook_event_resent_is_a_duplicate(webhooks: Api, sandbox: SandboxControl) -> None:
    """Pipelines retry on a timeout: the same messageId is delivered once, whichever secret signs it."""
    assert webhooks.request("POST", "/v1/webhook", *signed(identify("w5"))).status == 200
    for secret in ("new-secret", "old-secret"):
        assert webhooks.request("POST", "/v1/webhook", *signed(track("w5"), secret)).status == 200
    assert len(sandbox.state()["events"]) == 1


def test_unsigned_and_keyless_is_refused(webhooks: Api) -> None:
    reply = webhooks.request("POST", "/v1/webhook", json.dumps(identify("w6")).encode(), {})
    assert (reply.status, reply.body["code"]) == (401, "unauthorized")
