"""A non-default actions file through `make dev`'s stack (HTTP, the adapter, the real handler, the sandbox,
moto): the examples users ask for, per-action de-duplication, replay with the actions that fired at
ingest, the integration's own names, a refused file, the actions from SSM, and the preview."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import Api, cold_start, outcomes

ACTIONS = {
    "actions": [
        {
            "name": "Identify Contact",
            "type": "identify_contact",
            "trigger": 'type = "identify"',
            "mapping": {
                "name": {
                    "@if": {
                        "exists": {"@path": "$.traits.name"},
                        "then": {"@path": "$.traits.name"},
                        "else": {"@template": "{{traits.first}} {{traits.last}}"},
                    }
                },
                "custom_attributes": {"company_name": {"@path": "$.traits.company_name"}},
            },
        },
        {
            "name": "Signed Up Contact",
            "type": "identify_contact",
            "trigger": 'type = "track" and event = "Signed Up"',
            "mapping": {
                "email": {"@path": "$.properties.email"},
                "custom_attributes": {"@literal": {"source": "signup"}},
            },
        },
        {"name": "Identify Company", "type": "identify_company", "enabled": False, "trigger": 'type = "group"'},
        {"name": "Track Event", "type": "track_event", "trigger": 'type = "track" and event != "Heartbeat"'},
    ]
}
IDENTIFY = {
    "type": "identify",
    "userId": "u-1",
    "messageId": "m-identify",
    "traits": {"first": "Ada", "last": "Lovelace", "company_name": "Acme", "plan": "pro"},
}
GROUP = {"type": "group", "userId": "u-1", "groupId": "acme", "messageId": "m-group", "traits": {"name": "Acme"}}
HEARTBEAT = {"type": "track", "userId": "u-1", "event": "Heartbeat", "messageId": "m-heartbeat"}
SIGNED_UP = {
    "type": "track",
    "userId": "u-2",
    "event": "Signed Up",
    "messageId": "m-signup",
    "timestamp": "2026-11-27T10:00:00Z",
    "properties": {"email": "grace@example.com", "plan": "pro"},
}


def write(tmp_path: Path, actions: Any, name: str = "actions.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(actions), encoding="utf-8")
    return str(path)


@pytest.fixture
def custom(stack: Stack, sandbox: SandboxControl, tmp_path: Path) -> Api:
    cold_start(stack, ACTIONS_FILE=write(tmp_path, ACTIONS))
    return Api(stack.url)


def contacts(sandbox: SandboxControl) -> dict[str, dict[str, Any]]:
    return {contact["external_id"]: contact for contact in sandbox.state()["contacts"]}


def test_the_users_examples(custom: Api, sandbox: SandboxControl) -> None:
    """A built name and one trait as a custom attribute; a Signed Up track also identifies its contact;
    Heartbeat dropped; Identify Company off."""
    assert custom.batch(IDENTIFY, GROUP, HEARTBEAT, SIGNED_UP).status == 200
    state = sandbox.state()
    people = contacts(sandbox)
    assert people["u-1"]["name"] == "Ada Lovelace"
    assert people["u-1"]["custom_attributes"] == {"company_name": "Acme"}  # `plan` is not mapped any more
    assert (people["u-2"]["email"], people["u-2"]["custom_attributes"]) == ("grace@example.com", {"source": "signup"})
    assert state["companies"] == []
    assert [(event["event_name"], event["contact_id"]) for event in state["events"]] == [
        ("Signed Up", people["u-2"]["id"])
    ]


def test_each_action_is_deduplicated_on_its_own(custom: Api, sandbox: SandboxControl) -> None:
    assert custom.batch(SIGNED_UP).status == 200
    sent = len(sandbox.requests())
    assert custom.batch(SIGNED_UP).status == 200  # an SDK's resend: both actions are duplicates
    assert len(sandbox.requests()) == sent
    assert len(sandbox.state()["events"]) == 1
    assert len(sandbox.state()["contacts"]) == 1


def test_a_replay_maps_with_the_actions_that_fired_at_ingest(
    custom: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    sandbox.configure(faults=[{"status": 503}])
    assert custom.batch(SIGNED_UP).status == 200
    queued = stack.peek()
    assert [message.mapped_by["name"] for message in queued] == ["Signed Up Contact", "Track Event"]
    assert len({message.idempotency_key for message in queued}) == 2
    cold_start(stack)  # the default actions now: they would neither identify on a track nor read properties.email
    sandbox.configure(faults=[])
    assert outcomes(stack.replay()) == {
        "replayed": 2, "delivered": 2, "requeued": 0, "parked": 0, "stale": 0, "paused_ms": 0,
    }  # fmt: skip
    (contact,) = sandbox.state()["contacts"]
    assert (contact["external_id"], contact["email"]) == ("u-2", "grace@example.com")
    assert [event["event_name"] for event in sandbox.state()["events"]] == ["Signed Up"]


@pytest.mark.parametrize(
    ("integrations", "delivered"),
    [
        ({"Intercom Cloud Mode (Actions)": False}, 0),
        ({"Intercom Cloud Mode (Actions)": False, "Intercom": True}, 0),
        ({"All": False, "Intercom Cloud Mode (Actions)": True}, 1),
        ({"intercom-web": False}, 1),  # web mode's name: the browser script's business, not cloud mode's
    ],
)
def test_cloud_mode_answers_to_its_own_name(
    api: Api, sandbox: SandboxControl, integrations: dict[str, Any], delivered: int
) -> None:
    event = {"type": "track", "userId": "u-1", "event": "Paid", "integrations": integrations}
    reply = api.batch({"type": "identify", "userId": "u-1"}, event)
    assert reply.status == 200
    assert len(sandbox.state()["events"]) == delivered


def test_an_invalid_actions_file_is_refused_with_503_and_nothing_is_sent(
    stack: Stack, sandbox: SandboxControl, tmp_path: Path
) -> None:
    broken = {"actions": [{"name": "Track Event", "type": "track_event", "trigger": 'type = "track" and'}]}
    cold_start(stack, ACTIONS_FILE=write(tmp_path, broken))
    reply = Api(stack.url).batch(SIGNED_UP)
    assert (reply.status, reply.body["code"], reply.headers["retry-after"]) == (503, "misconfigured", "5")
    assert sandbox.requests() == []
    cold_start(stack, ACTIONS_FILE=str(tmp_path / "missing.json"))
    assert Api(stack.url).batch(SIGNED_UP).status == 503


def test_actions_from_an_ssm_parameter(stack: Stack, sandbox: SandboxControl) -> None:
    ssm = boto3.client("ssm", endpoint_url=stack.resources.endpoint)
    ssm.put_parameter(Name="/test-actions/actions", Value=json.dumps(ACTIONS), Type="String", Overwrite=True)
    cold_start(stack, ACTIONS_PARAMETER="/test-actions/actions", ACTIONS_FILE="/nowhere.json")  # the parameter wins
    assert Api(stack.url).batch(HEARTBEAT, SIGNED_UP).status == 200
    assert [event["event_name"] for event in sandbox.state()["events"]] == ["Signed Up"]
    assert contacts(sandbox)["u-2"]["email"] == "grace@example.com"


def test_the_preview_shows_what_would_be_sent_and_sends_nothing(
    custom: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    reply = custom.post("/v1/preview", [IDENTIFY, GROUP, HEARTBEAT, SIGNED_UP, {"type": "track"}])
    assert reply.status == 200
    assert sandbox.requests() == []
    assert stack.depth() == 0
    events = {event["index"]: event for event in reply.body["events"]}
    assert events[1]["actions"] == []
    assert events[1]["skipped"] == "no action's trigger matches this group"
    assert events[2]["skipped"] == "no action's trigger matches this track"
    assert [action["name"] for action in events[3]["actions"]] == ["Signed Up Contact", "Track Event"]
    (create,) = events[0]["actions"][0]["requests"]
    assert (create["method"], create["path"]) == ("POST", "/contacts")
    assert create["body"]["name"] == "Ada Lovelace"
    assert [(error["index"], error["field"]) for error in reply.body["errors"]] == [(4, "event")]
    # Nothing was claimed: the same events are delivered now, and as the preview showed.
    assert custom.batch(IDENTIFY, GROUP, HEARTBEAT, SIGNED_UP).status == 200
    (event,) = sandbox.state()["events"]
    shown = events[3]["actions"][1]["requests"][0]["body"]
    assert {key: event[key] for key in ("event_name", "created_at", "metadata")} == {
        key: shown[key] for key in ("event_name", "created_at", "metadata")
    }
    assert shown["user_id"] == "u-2"


def test_the_preview_needs_a_write_key(custom: Api) -> None:
    assert custom.post("/v1/preview", SIGNED_UP, key="wrong").status == 401
    assert custom.post("/v1/preview", SIGNED_UP, key=None).status == 401
