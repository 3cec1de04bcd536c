"""Every request our client sends conforms to Intercom's official OpenAPI description.

The sandbox validates each request against the vendored description and answers 400 to any that
does not; the `sandbox` fixture fails every test whose traffic broke it. These tests make sure the
whole client surface is exercised, and that the check itself can fail.
"""

from __future__ import annotations

import json
import re

import pytest
import urllib3
import yaml
from intercom_destination.config.settings import DEFAULT_INTERCOM_VERSION

from local.sandbox import DEFAULT_TOKEN, SandboxControl
from local.sandbox.spec import SPEC_PATH
from local.stack import Stack
from tests.conftest import Api, cold_start

#: Every Intercom operation the destination uses.
OPERATIONS = {
    "GET /data_attributes",
    "POST /data_attributes",
    "POST /contacts",
    "PUT /contacts/{id}",
    "POST /contacts/search",
    "POST /contacts/merge",
    "GET /contacts/find_by_external_id/{external_id}",
    "POST /companies",
    "POST /contacts/{id}/companies",
    "POST /events",
}


def operation(method: str, path: str) -> str:
    path = re.sub(r"^/contacts/find_by_external_id/[^/]+$", "/contacts/find_by_external_id/{external_id}", path)
    path = re.sub(r"^/contacts/(?!search$|merge$|find_by)[^/]+", "/contacts/{id}", path)
    return f"{method} {path}"


def test_all_operations_the_destination_uses_conform(api: Api, stack: Stack, sandbox: SandboxControl) -> None:
    lead = {"type": "identify", "anonymousId": "a1", "traits": {"email": "c@example.com", "score": 1.5}}
    user = {
        "type": "identify",
        "userId": "c1",
        "timestamp": "2026-11-20T10:00:00Z",
        "traits": {
            "email": "c@example.com",
            "name": "Con Tract",
            "phone": "+1 555 0100",
            "avatar": "https://img.example/c.png",
            "createdAt": 1700000000,
            "owner_id": 7,
            "unsubscribed_from_emails": False,
            "nested": {"deep": {"value": True}},
        },
    }
    group = {
        "type": "group",
        "userId": "c1",
        "groupId": "g1",
        "traits": {"name": "G", "plan": "p", "monthly_spend": 10.5, "employees": 3, "createdAt": "2020-01-01", "x": 1},
    }
    track = {
        "type": "track",
        "userId": "c1",
        "event": "order.completed",
        "properties": {"revenue": 1, "link": {"url": "https://e.example", "value": "E"}, "n": 2, "ok": True},
    }
    lead_track = {"type": "track", "anonymousId": "a2", "event": "e", "context": {"traits": {"email": "l@example.com"}}}
    lead_group = {
        "type": "group",
        "anonymousId": "a2",
        "groupId": "g2",
        "context": {"traits": {"email": "l@example.com"}},
    }
    other_lead = {"type": "identify", "anonymousId": "a2", "traits": {"email": "l@example.com"}}
    assert api.batch(lead, user, group, track, other_lead, lead_track, lead_group).status == 200
    stack.clear()  # no person records: a cold function resolves contacts through Intercom, not a remembered id
    cold_start(stack)
    assert api.batch({**group, "traits": {"name": "G2"}}, {**user, "traits": {"name": "Again"}}).status == 200
    sent = {operation(r["method"], r["path"]) for r in sandbox.requests()}
    assert sent >= OPERATIONS, OPERATIONS - sent
    assert sandbox.state()["violations"] == []


@pytest.mark.spec_violations_expected
def test_the_sandbox_rejects_requests_that_break_the_description(stack: Stack, sandbox: SandboxControl) -> None:
    http = urllib3.PoolManager()
    headers = {
        "Authorization": f"Bearer {DEFAULT_TOKEN}",
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Intercom-Version": DEFAULT_INTERCOM_VERSION,
    }
    bad_bodies = [
        ("/contacts", {"role": "user", "external_id": "x", "signed_up_at": "2026-01-01"}),
        ("/events", {"event_name": "no contact and no time"}),
    ]
    for path, body in bad_bodies:
        response = http.request("POST", stack.intercom_api_base + path, body=json.dumps(body), headers=headers)
        assert response.status == 400
        assert json.loads(response.data)["errors"][0]["code"] == "parameter_invalid"
    response = http.request(
        "GET", stack.intercom_api_base + "/data_attributes", headers={**headers, "Intercom-Version": "9.99"}
    )
    assert response.status == 400
    assert len(sandbox.state()["violations"]) == 3
    assert sandbox.state()["contacts"] == []


def test_the_pinned_version_is_the_vendored_descriptions() -> None:
    with SPEC_PATH.open() as handle:
        for line in handle:
            if line.strip().startswith("version:"):
                assert line.split(":", 1)[1].strip().strip("'\"") == DEFAULT_INTERCOM_VERSION
                return
    pytest.fail("no info.version in the description")


def test_the_relaxed_schemas_are_the_two_documented_ones() -> None:
    """The file is used as published: only two schemas are relaxed, in memory (docs/intercom-api.md §7)."""
    spec = yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    schemas = spec["components"]["schemas"]
    assert schemas["create_data_event_request"]["properties"]["metadata"]["additionalProperties"] == {"type": "string"}
    company = schemas["create_or_update_company_request"]["properties"]["custom_attributes"]
    assert company["additionalProperties"] == {"type": "string"}
