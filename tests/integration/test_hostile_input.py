"""Each hostile input named in the trust issue, one request each: the bad event alone is refused (400,
its index and field named) or the bad field is dropped by a documented rule; the rest is delivered."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from local.sandbox import SandboxControl
from tests.conftest import Api

GOOD = '{"type": "identify", "userId": "good", "traits": {"name": "Good"}}'


def batch_text(*events: str) -> bytes:
    return ('{"batch": [' + ",".join(events) + "]}").encode("utf-8", "surrogatepass")


def contacts(sandbox: SandboxControl) -> dict[str, dict[str, Any]]:
    return {contact["external_id"]: contact for contact in sandbox.state()["contacts"]}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ('{"type": "group", "userId": "good", "groupId": "g", "traits": {"employees": 1e400}}', "traits.employees"),
        ('{"type": "identify", "userId": "u2", "traits": {"score": Infinity}}', "traits.score"),
        ('{"type": "identify", "userId": "u2", "traits": {"score": NaN}}', "traits.score"),
        ('{"type": "track", "userId": "u2", "event": "E", "properties": {"n": -Infinity}}', "properties.n"),
        ('{"type": "track", "userId": "u2", "event": "E", "properties": {"n": ' + "7" * 5000 + "}}", "properties.n"),
        ('{"type": "track", "userId": "u2", "event": "E", "timestamp": "9999-12-31T23:59:59-05:00"}', "timestamp"),
        ('{"type": "track", "userId": "u2", "event": "E", "sentAt": "0001-01-01T00:00:00+01:00"}', "sentAt"),
        ('{"type": "identify", "userId": "..", "traits": {}}', "userId"),
        ('{"type": "identify", "userId": ".", "traits": {}}', "userId"),
        ('{"type": "group", "userId": "u2", "groupId": "..", "traits": {}}', "groupId"),
        ('{"type": "identify", "userId": "u2", "traits": {"x": ' + "[" * 600 + "]" * 600 + "}}", "traits.x"),
        ('{"type": "identify", "userId": "u2", "traits": {"x": ' + "[" * 5000 + "]" * 5000 + "}}", "traits.x"),
        ('{"type": "identify", "userId": "u2", "traits": ' + '{"k": ' * 40 + "1" + "}" * 40 + "}", "traits.k"),
    ],
)
def test_the_bad_event_alone_is_refused_with_its_field(api: Api, sandbox: SandboxControl, bad: str, field: str) -> None:
    reply = api.post("/v1/batch", raw=batch_text(GOOD, bad))
    assert reply.status == 400, reply.body
    assert reply.body["code"] == "validation_failed"
    (error,) = reply.body["errors"]
    assert error["index"] == 1
    assert error["field"].startswith(field)
    assert "good" in contacts(sandbox)
    assert "u2" not in contacts(sandbox)


def test_dropped_fields_follow_the_documented_rules(api: Api, sandbox: SandboxControl) -> None:
    """Numbers out of a standard field's range are left out; odd revenue stays a plain value or goes;
    an implausible event time falls back to the time of receipt."""
    reply = api.post(
        "/v1/batch",
        raw=batch_text(
            '{"type": "identify", "userId": "u3", "originalTimestamp": "0001-01-01T00:00:00Z",'
            ' "sentAt": "9999-12-31T00:00:00Z", "traits": {"name": "Old Clock"}}',
            '{"type": "group", "userId": "u3", "groupId": "g3",'
            ' "traits": {"name": "G", "monthly_spend": "1e200000", "employees": "-1e30"}}',
            '{"type": "track", "userId": "u3", "event": "Big", "properties": {"revenue": 1e30}}',
            '{"type": "track", "userId": "u3", "event": "Odd", "properties": {"revenue": {"a": 1}, "k": "v"}}',
        ),
    )
    assert (reply.status, reply.body) == (200, {"success": True})
    state = sandbox.state()
    (contact,) = state["contacts"]
    assert contact["name"] == "Old Clock"
    assert contact["last_seen_at"] > 1_700_000_000  # received time, not year 1 or before 1970
    (company,) = state["companies"]
    assert company["name"] == "G"
    (sent,) = [request["body"] for request in sandbox.requests() if request["path"] == "/companies"]
    assert sent["company_id"] == "g3"
    assert "monthly_spend" not in sent  # out of range: left out, not sent as 0 or inf
    assert "size" not in sent
    events = {event["event_name"]: event for event in state["events"]}
    assert events["Big"]["metadata"] == {"revenue": 1e30}
    assert events["Odd"]["metadata"] == {"k": "v"}


def test_an_event_with_several_bad_fields_is_one_rejected_event_naming_each(api: Api, sandbox: SandboxControl) -> None:
    reply = api.post(
        "/v1/batch", raw=batch_text(GOOD, '{"type": "identify", "userId": "u2", "traits": {"a": NaN, "b": 1e400}}')
    )
    assert reply.status == 400
    assert reply.body["message"].startswith("1 event(s) rejected")
    assert [(e["index"], e["field"]) for e in reply.body["errors"]] == [(1, "traits.a"), (1, "traits.b")]


def test_a_single_event_path_with_a_bad_field_is_a_400_naming_it(api: Api, sandbox: SandboxControl) -> None:
    reply = api.post("/v1/identify", raw=b'{"userId": "u4", "traits": {"n": 1e999}}')
    assert reply.status == 400
    assert [error["field"] for error in reply.body["errors"]] == ["traits.n"]


def test_event_size_counts_utf8_bytes_not_escapes(api: Api, sandbox: SandboxControl) -> None:
    """12 KB of accented text is 12 KB (json.dumps' ASCII escapes would make it 36 KB, over 32 KB)."""
    text = "é" * 6000  # 12,000 UTF-8 bytes
    reply = api.batch({"type": "identify", "userId": "u5", "traits": {"bio": text[:255], "long": text}})
    assert (reply.status, reply.body) == (200, {"success": True})
    too_big = api.batch({"type": "identify", "userId": "u6", "traits": {"long": "é" * 17000}})
    assert too_big.status == 400
    assert "byte limit" in too_big.body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (gzip.compress(json.dumps({"batch": []}).encode())[:-6], "truncated"),
        (gzip.compress(json.dumps({"batch": []}).encode()) + b"trailing", "after the end"),
        (gzip.compress(b'{"batch": []}') + gzip.compress(b'{"batch": []}'), "after the end"),
    ],
)
def test_broken_gzip_is_a_400_not_a_silent_drop(api: Api, raw: bytes, message: str) -> None:
    reply = api.post("/v1/batch", raw=raw, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400
    assert message in reply.body["message"]


def test_a_wrong_header_key_is_401_before_the_body_is_read(api: Api, sandbox: SandboxControl) -> None:
    """Not even gzip is inflated: garbage that would be a 400 for a known caller is a 401 for a stranger."""
    reply = api.post("/v1/batch", raw=b"not gzip at all", key="wrong", headers={"Content-Encoding": "gzip"})
    assert reply.status == 401
    known = api.post("/v1/batch", raw=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert known.status == 400
