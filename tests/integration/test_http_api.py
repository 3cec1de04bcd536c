"""HTTP in → sandbox state out, through the API Gateway adapter and the real Lambda handler."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from local.adapter import Adapter
from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import CIO_KEY, WRITE_KEY, Api, cold_start

EVENTS = Path(__file__).resolve().parents[2] / "events"


def identify(user: str = "u1", **traits: Any) -> dict[str, Any]:
    return events.identify(user, f"id-{user}", **traits)


def track(user: str = "u1", event: str = "Signed Up", **properties: Any) -> dict[str, Any]:
    return events.track(user, event, properties=properties)


def intercom_calls(sandbox: SandboxControl) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sandbox.requests()]


def test_readme_example_creates_contact_company_and_event(api: Api, sandbox: SandboxControl) -> None:
    reply = api.batch(
        identify("u-1", email="ada@example.com", name="Ada Lovelace", plan="pro"),
        {"type": "group", "userId": "u-1", "groupId": "acme", "traits": {"name": "Acme Inc", "employees": 42}},
        track("u-1", "Order Completed", revenue=19.99, currency="USD"),
    )
    assert (reply.status, reply.body) == (200, {"success": True})
    state = sandbox.state()
    (contact,) = state["contacts"]
    assert contact["external_id"] == "u-1"
    assert contact["role"] == "user"
    assert contact["email"] == "ada@example.com"
    assert contact["custom_attributes"] == {"plan": "pro"}
    (company,) = state["companies"]
    assert (company["company_id"], company["name"], company["size"], company["user_count"]) == (
        "acme",
        "Acme Inc",
        42,
        1,
    )
    assert contact["companies"]["data"] == [{"type": "company", "id": company["id"]}]
    (event,) = state["events"]
    assert event["event_name"] == "Order Completed"
    assert event["contact_id"] == contact["id"]
    assert event["metadata"] == {"price": {"amount": 1999, "currency": "USD"}}


@pytest.mark.parametrize("path", ["/v1/identify", "/v1/i"])
def test_single_identify_paths(api: Api, sandbox: SandboxControl, path: str) -> None:
    reply = api.post(path, {"userId": "u2", "traits": {"email": "u2@example.com"}})
    assert reply.status == 200
    assert [c["external_id"] for c in sandbox.state()["contacts"]] == ["u2"]


@pytest.mark.parametrize("path", ["/v1/page", "/v1/screen", "/v1/alias", "/v1/p", "/v1/s", "/v1/a"])
def test_page_screen_alias_are_accepted_and_skipped(api: Api, sandbox: SandboxControl, path: str) -> None:
    reply = api.post(path, {"userId": "u1", "previousId": "anon", "name": "Home"})
    assert (reply.status, reply.body) == (200, {"success": True})
    assert intercom_calls(sandbox) == []


def test_browser_batch_as_text_plain_with_write_key_in_body(api: Api, sandbox: SandboxControl) -> None:
    body = {"batch": [identify("u3")], "writeKey": WRITE_KEY}
    reply = api.post(
        "/v1/b",
        key=None,
        raw=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert reply.status == 200
    assert reply.headers.get("access-control-allow-origin") == "*"
    assert [c["external_id"] for c in sandbox.state()["contacts"]] == ["u3"]


def test_import_path_takes_a_batch(api: Api, sandbox: SandboxControl) -> None:
    assert api.post("/v1/import", {"batch": [identify("u4")]}).status == 200
    assert len(sandbox.state()["contacts"]) == 1


def test_a_bare_array_is_a_batch_on_batch_paths_only(api: Api, sandbox: SandboxControl) -> None:
    """Some senders post the events as a top-level array: handled as `{"batch": [...]}`, per event."""
    reply = api.post("/v1/batch", [identify("u6"), {"type": "track", "userId": "u6"}, track("u6")])
    assert reply.status == 400
    assert [(e["index"], e["field"]) for e in reply.body["errors"]] == [(1, "event")]
    state = sandbox.state()
    assert [c["external_id"] for c in state["contacts"]] == ["u6"]
    assert [e["event_name"] for e in state["events"]] == ["Signed Up"]
    refused = api.post("/v1/track", [track("u6")])
    assert (refused.status, refused.body["code"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {CIO_KEY}"},
        {"Authorization": "Basic " + base64.b64encode(f"{CIO_KEY}:".encode()).decode()},
    ],
)
def test_bearer_and_rotated_keys_are_accepted(api: Api, sandbox: SandboxControl, headers: dict[str, str]) -> None:
    assert api.batch(identify("u5"), key=None, headers=headers).status == 200
    assert len(sandbox.state()["contacts"]) == 1


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_missing_or_wrong_key_is_401_and_nothing_is_delivered(
    api: Api, sandbox: SandboxControl, key: str | None
) -> None:
    reply = api.batch(identify("u6"), key=key)
    assert reply.status == 401
    assert reply.body["code"] == "unauthorized"
    assert isinstance(reply.body["message"], str)
    assert intercom_calls(sandbox) == []


def test_gzip_body(api: Api, sandbox: SandboxControl) -> None:
    raw = gzip.compress(json.dumps({"batch": [identify("u7")]}).encode())
    assert api.post("/v1/batch", raw=raw, headers={"Content-Encoding": "gzip"}).status == 200
    assert len(sandbox.state()["contacts"]) == 1


def test_gzip_bomb_is_413(api: Api, sandbox: SandboxControl) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * 20_000_000 + b"]}")
    reply = api.post("/v1/batch", raw=bomb, headers={"Content-Encoding": "gzip"})
    assert (reply.status, reply.body["code"]) == (413, "payload_too_large")


def test_batch_over_500kb_is_413_and_nothing_is_delivered(api: Api, sandbox: SandboxControl) -> None:
    events = [identify(f"u{i}", bio="x" * 10_000) for i in range(60)]
    reply = api.batch(*events)
    assert (reply.status, reply.body["code"]) == (413, "payload_too_large")
    assert intercom_calls(sandbox) == []


def test_invalid_and_oversize_events_are_named_and_the_rest_delivered(api: Api, sandbox: SandboxControl) -> None:
    reply = api.batch(
        identify("ok-1"),
        {"type": "track", "userId": "ok-1", "messageId": "no-name"},
        {"type": "identify", "userId": "big", "messageId": "too-big", "traits": {"bio": "x" * 33_000}},
        {"type": "group", "userId": "ok-1"},
        track("ok-1", "Valid"),
    )
    assert reply.status == 400
    assert reply.body["code"] == "validation_failed"
    assert [(e["index"], e["messageId"], e["field"]) for e in reply.body["errors"]] == [
        (1, "no-name", "event"),
        (2, "too-big", "(event)"),
        (3, None, "groupId"),
    ]
    state = sandbox.state()
    assert [c["external_id"] for c in state["contacts"]] == ["ok-1"]
    assert [e["event_name"] for e in state["events"]] == ["Valid"]


@pytest.mark.parametrize(
    "integrations", [{"Intercom": False}, {"All": False}, {"all": False, "intercom": False}, {"INTERCOM": False}]
)
def test_integrations_object_skips_the_event(api: Api, sandbox: SandboxControl, integrations: dict[str, Any]) -> None:
    assert api.batch({**identify("u8"), "integrations": integrations}).status == 200
    assert intercom_calls(sandbox) == []


def test_all_false_with_intercom_true_is_delivered(api: Api, sandbox: SandboxControl) -> None:
    body = {"batch": [identify("u9")], "integrations": {"All": False, "Intercom": True}}
    assert api.post("/v1/batch", body).status == 200
    assert len(sandbox.state()["contacts"]) == 1


@pytest.mark.parametrize(
    ("raw", "code"),
    # A bare array is a batch: its two non-object events are refused one by one.
    [(b"{not json", "invalid_request"), (b"[1, 2]", "validation_failed"), (b'{"batch": 5}', "invalid_request")],
)
def test_malformed_requests_are_400_with_code_and_message(api: Api, raw: bytes, code: str) -> None:
    reply = api.post("/v1/batch", raw=raw)
    assert (reply.status, reply.body["code"]) == (400, code)
    assert reply.body["message"]


def test_unknown_path_and_health(api: Api) -> None:
    reply = api.post("/v1/purchase", {"userId": "u"})
    assert (reply.status, reply.body["code"]) == (404, "not_found")
    assert api.request("GET", "/health").status == 200


def test_an_intercom_outage_is_queued_and_answered_200(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    sandbox.configure(faults=[{"status": 500, "method": "POST", "path": "/events"}])
    assert api.batch(identify("u10"), track("u10")).status == 200
    assert len(sandbox.state()["contacts"]) == 1  # the identify was delivered
    (queued,) = stack.peek()
    assert (queued.action, queued.last_error.status, queued.last_error.code) == ("track", 500, "server_error")


def test_a_spent_rate_limit_window_stops_calls_and_queues_the_rest(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    assert api.batch(identify("u11")).status == 200
    sandbox.configure(rate_limit=3, window_seconds=60)  # the identify used one call of this window
    assert api.batch(*(track("u11", f"Event {i}") for i in range(5))).status == 200
    # X-RateLimit-Remaining said 0 after the second event: no call was spent on a 429.
    assert [r["status"] for r in sandbox.requests()] == [200, 202, 202]
    assert [e["event_name"] for e in sandbox.state()["events"]] == ["Event 0", "Event 1"]
    queued = stack.peek()
    assert [q.last_error.code for q in queued] == ["rate_limit_exceeded", "queued_behind", "queued_behind"]
    assert [q.event["event"] for q in queued] == ["Event 2", "Event 3", "Event 4"]


@pytest.mark.parametrize("name", sorted(path.stem for path in EVENTS.glob("*.json")))
def test_sample_events_through_the_handler(stack: Stack, sandbox: SandboxControl, name: str) -> None:
    """The events/ files are what `sam local invoke -e` would use; each gets a correct answer."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    assert isinstance(stack.adapter, Adapter)  # the function in this process, invoked as Lambda would
    if name.removeprefix("browser-") in ("group", "track", "batch"):  # they need the user to exist first
        stack.adapter.invoke(json.loads((EVENTS / "identify.json").read_text()))
    result = stack.adapter.invoke(event)
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"]) in ({"success": True}, {"status": "ok"})


def test_a_misconfigured_function_answers_500_with_code_and_message(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    cold_start(stack, WRITE_KEYS="")  # neither WRITE_KEYS nor WRITE_KEYS_PARAMETER
    reply = api.batch(identify("u12"))
    assert (reply.status, reply.body["code"]) == (500, "internal_error")
    assert reply.body["message"]
    assert intercom_calls(sandbox) == []


def test_the_web_script_is_served_with_long_lived_caching_and_an_etag(api: Api) -> None:
    script = (Path(__file__).resolve().parents[2] / "functions" / "ingest" / "web" / "intercom.js").read_bytes()
    reply = api.http.request("GET", api.url + "/v1/web/intercom.js")
    assert reply.status == 200
    assert reply.data == script
    assert reply.headers["Content-Type"].startswith("application/javascript")
    assert "max-age=86400" in reply.headers["Cache-Control"]
    etag = reply.headers["ETag"]
    again = api.http.request("GET", api.url + "/v1/web/intercom.js", headers={"If-None-Match": etag})
    assert (again.status, again.data) == (304, b"")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    pinned = api.http.request("GET", api.url + "/v1/web/intercom.js?v=2.0.0")
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    other = api.http.request("GET", api.url + "/v1/web/intercom.js?v=0.9.0")
    assert "immutable" not in other.headers["Cache-Control"]
    assert "max-age=86400" in other.headers["Cache-Control"]
