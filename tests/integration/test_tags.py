"""Tags on contacts (identify `traits.tags`) and companies (group `traits.tags`) against the sandbox: each
applied once, a repeat costs no call (also in a new function: the person record remembers), and an
actions field names the tags taken off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.sandbox import SandboxControl
from local.stack import Stack
from tests import events
from tests.conftest import Api, cold_start


def identify(message_id: str, **traits: Any) -> dict[str, Any]:
    return events.identify("u1", message_id, **traits)


def group(message_id: str, **traits: Any) -> dict[str, Any]:
    return {"type": "group", "userId": "u1", "groupId": "acme", "messageId": message_id, "traits": traits}


def contact_tags(sandbox: SandboxControl) -> list[str]:
    state = sandbox.state()
    names = {tag["id"]: tag["name"] for tag in state["tags"]}
    (contact,) = state["contacts"]
    return sorted(names[tag["id"]] for tag in contact["tags"]["data"])


def company_tags(sandbox: SandboxControl) -> list[str]:
    (company,) = sandbox.state()["companies"]
    return sorted(tag["name"] for tag in company["tags"]["tags"])


def test_an_identifys_tags_are_applied_once_and_never_sent_as_an_attribute(
    api: Api, stack: Stack, sandbox: SandboxControl
) -> None:
    assert api.batch(identify("i1", tags=["vip", "beta", "VIP"])).status == 200
    assert contact_tags(sandbox) == ["beta", "vip"]
    (contact,) = sandbox.state()["contacts"]
    assert contact["custom_attributes"] == {}
    before = len(sandbox.requests())
    assert api.batch(identify("i2", tags=["vip", "beta"])).status == 200
    assert sandbox.requests()[before:] == []  # the repeat: nothing to write, nothing to tag
    cold_start(stack)  # a new function: the person record remembers the contact and its tags
    assert api.batch(identify("i3", tags=["vip", "beta"])).status == 200
    assert sandbox.requests()[before:] == []
    assert api.batch(identify("i4", tags=["vip", "beta", "new"])).status == 200
    assert [(r["method"], r["path"]) for r in sandbox.requests()[before:]] == [
        ("GET", "/tags"),
        ("POST", "/tags"),
        ("POST", f"/contacts/{contact['id']}/tags"),
    ]  # the workspace's tags listed once per function, the missing one created, then applied
    assert contact_tags(sandbox) == ["beta", "new", "vip"]


def test_a_groups_tags_tag_the_company_by_its_company_id(api: Api, sandbox: SandboxControl) -> None:
    assert api.batch(events.identify("u1", "i1"), group("g1", name="Acme", tags="enterprise")).status == 200
    assert company_tags(sandbox) == ["enterprise"]
    before = len(sandbox.requests())
    assert api.batch(group("g2", name="Acme", tags=["enterprise"])).status == 200
    assert sandbox.requests()[before:] == []


def test_an_actions_field_names_the_tags_taken_off(
    api: Api, stack: Stack, sandbox: SandboxControl, tmp_path: Path
) -> None:
    """Tags only add in Intercom: removing is said by a field the actions file maps."""
    untagging = {
        "actions": [
            {"name": "Identify Contact", "type": "identify_contact", "trigger": 'type = "identify"',
             "mapping": {"untags": {"@path": "$.traits.removed_tags"}}},
            {"name": "Identify Company", "type": "identify_company", "trigger": 'type = "group"',
             "mapping": {"untags": {"@path": "$.traits.removed_tags"}}},
        ]
    }  # fmt: skip
    assert api.batch(identify("i1", tags=["vip", "beta"]), group("g1", name="Acme", tags=["a", "b"])).status == 200
    path = tmp_path / "actions.json"
    path.write_text(json.dumps(untagging))
    cold_start(stack, ACTIONS_FILE=str(path))
    removal = [identify("i2", tags=["beta"], removed_tags=["vip", "never-made"]), group("g2", removed_tags="a")]
    assert api.batch(*removal).status == 200
    assert contact_tags(sandbox) == ["beta"]
    assert company_tags(sandbox) == ["b"]
    assert "never-made" not in [tag["name"] for tag in sandbox.state()["tags"]]  # nothing created to remove
