"""The deploy path in the README and docs/deploy.md works as pasted, as far as a machine without an AWS
account can tell (#21 §4): the SAM CLI where `make sam` puts it, the SSM names the template reads by
default, the stack output it asks for, the functions it invokes and the paths it calls all exist; what
`sam delete` does with each kind of resource is what the template says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from intercom_destination.intake.inbound import SINGLE_CALL_PATHS

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"README.md": ROOT / "README.md", "deploy.md": ROOT / "docs" / "deploy.md"}


def deploy_commands(page: Path) -> str:
    return "\n".join(
        block
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.DOTALL)
        if "sam " in block or "aws " in block
    )


@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
def test_the_deploy_snippet_names_what_exists(page: Path, template: dict[str, Any]) -> None:
    commands = deploy_commands(page)
    makefile = (ROOT / "Makefile").read_text()
    assert 'export PATH="$PWD/.venv-sam/bin:$PATH"' in commands
    assert re.search(r"^SAM_VENV := \.venv-sam$", makefile, re.MULTILINE)
    defaults = {
        template["Parameters"][name]["Default"] for name in ("WriteKeysParameterName", "IntercomTokenParameterName")
    }
    named = set(re.findall(r"--name (/[\w/-]+)", commands))
    assert named
    assert named <= defaults
    outputs = set(re.findall(r"OutputKey=='(\w+)'", commands))
    assert outputs == {"EndpointUrl"}
    assert outputs <= set(template["Outputs"])
    for path in re.findall(r'"\$ENDPOINT(/[\w/]+)"', commands):
        assert path == "/health" or path.removeprefix("/v1/") in SINGLE_CALL_PATHS, path


def test_the_functions_the_readme_invokes_are_the_templates(template: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    invoked = set(re.findall(r"sam remote invoke (\w+)", readme))
    assert invoked == {"RedriveFunction", "ForgetFunction", "BackfillFunction"}
    assert invoked <= set(template["Resources"])


def test_what_sam_delete_keeps_and_removes_is_what_the_docs_say(template: dict[str, Any]) -> None:
    resources = template["Resources"].values()
    policies = {(r["Type"], r.get("DeletionPolicy", "Delete")) for r in resources}
    assert ("AWS::Logs::LogGroup", "Delete") in policies  # README: "deletes … the log groups"
    assert {("AWS::SQS::Queue", "Retain"), ("AWS::DynamoDB::Table", "Retain")} <= policies
    assert ("AWS::Logs::LogGroup", "Retain") not in policies
    for page in PAGES.values():
        text = " ".join(page.read_text().split())
        assert "log groups" in text
        assert "DeletionPolicy: Retain" in text


def test_an_empty_alarm_email_subscribes_no_one_as_the_docs_say(template: dict[str, Any]) -> None:
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "SubscribeAlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert "nobody is told" in (ROOT / "README.md").read_text()
