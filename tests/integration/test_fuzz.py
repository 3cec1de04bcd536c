"""Bounded fuzzing of /v1/batch through the real handler: arbitrary JSON in any field never costs a 5xx,
and the valid events beside it are always accepted.

Bodies are built as text, so they can hold what json.dumps cannot make: 5,000-digit integers, `1e400`,
NaN and Infinity literals, nesting thousands deep, lone surrogates.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import Api, cold_start

#: JSON text fragments that are valid to a lenient parser but hostile to naive code.
HOSTILE_LITERALS = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" * 5000,
    "-" + "9" * 30,
    "1e30",
    '"1e200000"',
    '"9999-12-31T23:59:59-05:00"',
    '"0001-01-01T00:00:00+01:00"',
    '"0001-01-01T00:00:00Z"',
    '".."',
    '"."',
    '"\\ud800"',
    '"' + "é" * 3000 + '"',
    '{"a":1}',
    "[" * 600 + "]" * 600,
    '{"k":' * 40 + "1" + "}" * 40,
    "[" * 3000 + "]" * 3000,
    "-0",
    "true",
    "null",
    '""',
    "[]",
    "{}",
]
#: Fields a hostile value is put into (paths into an event).
TARGETS = [
    ("userId",),
    ("anonymousId",),
    ("messageId",),
    ("type",),
    ("event",),
    ("groupId",),
    ("previousId",),
    ("timestamp",),
    ("originalTimestamp",),
    ("sentAt",),
    ("context",),
    ("context", "traits"),
    ("context", "traits", "email"),
    ("context", "active"),
    ("integrations",),
    ("integrations", "Intercom"),
    ("traits",),
    ("traits", "email"),
    ("traits", "createdAt"),
    ("traits", "monthly_spend"),
    ("traits", "employees"),
    ("traits", "name"),
    ("traits", "company"),
    ("traits", "unsubscribed_from_emails"),
    ("properties",),
    ("properties", "revenue"),
    ("properties", "currency"),
    ("properties", "email"),
    ("properties", "link"),
    ("properties", "when_date"),
]
SHAPES: list[dict[str, Any]] = [
    {"type": "identify", "userId": "fuzz", "traits": {"email": "f@example.com"}},
    {"type": "track", "userId": "fuzz", "event": "Fuzzed", "properties": {"a": 1}},
    {"type": "group", "userId": "fuzz", "groupId": "fuzz-co", "traits": {"name": "F"}},
    {"type": "page", "userId": "fuzz", "name": "Home"},
    {"type": "alias", "userId": "fuzz", "previousId": "anon"},
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _placed(event: dict[str, Any], path: tuple[str, ...], placeholder: str) -> dict[str, Any]:
    """`event` with the value at `path` replaced by `placeholder` (objects on the way are created)."""
    node = event
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = placeholder
    return event


@st.composite
def hostile_event(draw: st.DrawFn, number: int) -> tuple[str, str]:
    """(JSON text of one event with hostile values, its messageId). Placeholders are swapped for raw text."""
    event = json.loads(json.dumps(draw(st.sampled_from(SHAPES))))
    event["messageId"] = f"fuzz-bad-{number}"
    fragments = {}
    for slot in range(draw(st.integers(1, 3))):
        placeholder = f"@@{slot}@@"
        path = draw(st.sampled_from(TARGETS))
        fragments[json.dumps(placeholder)] = (
            draw(st.sampled_from(HOSTILE_LITERALS))
            if draw(st.booleans())
            else json.dumps(draw(json_values))  # allow_nan: NaN/Infinity literals too
        )
        _placed(event, path, placeholder)
    text = json.dumps(event)
    for placeholder, fragment in fragments.items():
        text = text.replace(placeholder, fragment)
    return text, event["messageId"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(data=st.data())
def test_arbitrary_json_never_costs_a_5xx_or_the_valid_events(
    api: Api, sandbox: SandboxControl, data: st.DataObject
) -> None:
    number = data.draw(st.integers(0, 10**9), label="n")
    bad = data.draw(st.lists(hostile_event(number), min_size=1, max_size=3), label="bad")
    good_at = data.draw(st.integers(0, len(bad)), label="good_at")
    good = json.dumps({"type": "identify", "userId": f"good-{number}", "messageId": f"fuzz-good-{number}-{good_at}"})
    items = [text for text, _ in bad]
    items.insert(good_at, good)
    body = ('{"batch":[' + ",".join(items) + "]}").encode("utf-8", "surrogatepass")

    reply = api.post("/v1/batch", raw=body, headers={"Content-Type": "application/json"})

    assert reply.status < 500, reply.body
    assert reply.status in (200, 400), reply.body
    if reply.status == 400:
        assert reply.body["code"] == "validation_failed"
        named = {error["index"] for error in reply.body["errors"]}
        assert good_at not in named, reply.body
        assert all(error["field"] and error["message"] for error in reply.body["errors"])
    contacts = {contact["external_id"] for contact in sandbox.state()["contacts"]}
    assert f"good-{number}" in contacts


#: Every action fires on every event and maps from wherever hostile values may sit (the whole event too).
GREEDY_ACTIONS = {
    "actions": [
        {
            "name": "Contact",
            "type": "identify_contact",
            "trigger": "type != null",
            "mapping": {
                "role": {"@path": "$.traits.name"},
                "email": {"@path": "$.traits.email"},
                "name": {"@template": "{{traits.name}} {{properties.link}} {{context.traits}}"},
                "signed_up_at": {"@path": "$.traits.createdAt"},
                "owner_id": {"@path": "$.properties"},
                "unsubscribed_from_emails": {"@path": "$.traits.unsubscribed_from_emails"},
                "custom_attributes": {"@path": "$"},
            },
        },
        {
            "name": "Company",
            "type": "identify_company",
            "trigger": 'type != null or contains(event, "x") or match(userId, "*")',
            "mapping": {
                "company_id": {"@path": "$.groupId"},
                "monthly_spend": {"@path": "$.traits.monthly_spend"},
                "size": {"@path": "$.properties.revenue"},
                "remote_created_at": {"@path": "$.timestamp"},
                "custom_attributes": {"@path": "$.properties"},
                "email": {"@path": "$.context.traits.email"},
            },
        },
        {
            "name": "Event",
            "type": "track_event",
            "trigger": "type != null",
            "mapping": {
                "event_name": {"@if": {"exists": {"@path": "$.event"}, "then": {"@path": "$.event"}, "else": "x"}},
                "created_at": {"@path": "$.properties.when_date"},
                "metadata": {"@path": "$"},
                "revenue": {"@path": "$.properties.revenue"},
                "currency": {"@path": "$.properties.currency"},
            },
        },
    ]
}


@pytest.fixture
def greedy(stack: Stack, sandbox: SandboxControl, tmp_path_factory: pytest.TempPathFactory) -> Api:
    path = tmp_path_factory.mktemp("actions") / "greedy.json"
    path.write_text(json.dumps(GREEDY_ACTIONS), encoding="utf-8")
    cold_start(stack, ACTIONS_FILE=str(path))
    return Api(stack.url)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(data=st.data())
def test_mappings_that_read_hostile_values_never_cost_a_5xx_or_the_valid_events(
    greedy: Api, sandbox: SandboxControl, data: st.DataObject
) -> None:
    """Custom mappings reach every hostile value (the whole event as custom attributes and metadata); the
    preview of the same body answers too."""
    number = data.draw(st.integers(0, 10**9), label="n")
    bad = data.draw(st.lists(hostile_event(number), min_size=1, max_size=3), label="bad")
    good = json.dumps({"type": "identify", "userId": f"good-{number}", "messageId": f"fuzz-greedy-{number}"})
    body = ('{"batch":[' + ",".join([good, *(text for text, _ in bad)]) + "]}").encode("utf-8", "surrogatepass")

    preview = greedy.post("/v1/preview", raw=body, headers={"Content-Type": "application/json"})
    reply = greedy.post("/v1/batch", raw=body, headers={"Content-Type": "application/json"})

    assert preview.status == 200, preview.body
    assert reply.status in (200, 400), reply.body
    if reply.status == 400:
        assert 0 not in {error["index"] for error in reply.body["errors"]}, reply.body
    assert f"good-{number}" in {contact["external_id"] for contact in sandbox.state()["contacts"]}
