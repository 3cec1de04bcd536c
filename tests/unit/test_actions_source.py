"""Where the actions come from: a file once, or an SSM parameter whose invalid new value never replaces
the last valid one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intercom_destination.actions_source import ActionsSource
from intercom_destination.mapping.actions import ActionsError, default_actions

ONE = json.dumps({"actions": [{"name": "T", "type": "track_event", "trigger": 'type = "track"'}]})
TWO = json.dumps({"actions": [{"name": "I", "type": "identify_contact", "trigger": 'type = "identify"'}]})
BROKEN = json.dumps({"actions": [{"name": "T", "type": "track_event", "trigger": "type ="}]})


def test_no_file_and_no_parameter_is_the_default_file() -> None:
    assert ActionsSource(None, None, lambda name: "")() == default_actions()


def test_a_file_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "actions.json"
    path.write_text(ONE)
    source = ActionsSource(str(path), None, lambda name: "")
    assert [action.name for action in source().actions] == ["T"]
    path.write_text(TWO)
    assert [action.name for action in source().actions] == ["T"]  # a file changes with a deployment


def test_an_unreadable_or_invalid_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ActionsError, match="unreadable"):
        ActionsSource(str(tmp_path / "missing.json"), None, lambda name: "")()
    (tmp_path / "broken.json").write_text(BROKEN)
    with pytest.raises(ActionsError, match="trigger"):
        ActionsSource(str(tmp_path / "broken.json"), None, lambda name: "")()


def test_a_parameter_changes_the_actions_but_an_invalid_value_never_replaces_valid_ones() -> None:
    value = {"now": ONE}
    source = ActionsSource(None, "/actions", lambda name: value["now"])
    assert [action.name for action in source().actions] == ["T"]
    value["now"] = TWO
    assert [action.name for action in source().actions] == ["I"]
    value["now"] = BROKEN
    assert [action.name for action in source().actions] == ["I"]  # refused; the last valid stays
    value["now"] = ONE
    assert [action.name for action in source().actions] == ["T"]


def test_a_parameter_never_valid_raises_every_time() -> None:
    source = ActionsSource(None, "/actions", lambda name: BROKEN)
    for _ in range(2):
        with pytest.raises(ActionsError):
            source()
