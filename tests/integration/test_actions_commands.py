"""The actions file's terminal commands as a user runs them: `make actions-check`, `make preview`, and
`make dev` refusing an invalid file (each is `python -m local.…` under make)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
BROKEN = {"actions": [{"name": "Track Event", "type": "track_event", "trigger": "type =", "mapping": {"nme": 1}}]}


def run(*args: str, actions_file: str = "", stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACTIONS_FILE": actions_file, "PORT": "0", "SANDBOX_PORT": "0", "AWS_PORT": "0"}
    command = [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60)  # noqa: S603


def test_actions_check_lists_the_default_actions() -> None:
    done = run("local.actions", "check")
    assert done.returncode == 0, done.stderr
    assert "5 action(s), valid" in done.stdout
    assert 'on  Track Event (track_event) when type = "track"; mapped: defaults' in done.stdout


def test_an_invalid_file_is_named_problem_by_problem_and_make_dev_does_not_start(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(BROKEN))
    checked = run("local.actions", "check", actions_file=str(path))
    assert checked.returncode == 2
    assert "action 'Track Event': trigger: expected a value" in checked.stderr
    assert "action 'Track Event': mapping.nme: unknown field of track_event" in checked.stderr
    dev = run("local.dev", actions_file=str(path))
    assert dev.returncode == 1
    assert "make dev: not started" in dev.stderr
    assert "intercom-destination is running" not in dev.stdout


def test_preview_of_an_api_gateway_sample_and_of_stdin() -> None:
    sample = run("local.actions", "preview", "events/track.json")
    assert sample.returncode == 0, sample.stderr
    assert "Track Event (track_event)" in sample.stdout
    assert '"event_name": "Order Completed"' in sample.stdout
    assert '"price": {"amount": 1999, "currency": "USD"}' in sample.stdout
    piped = run("local.actions", "preview", "-", "--json", stdin=json.dumps({"type": "page", "userId": "u"}))
    assert json.loads(piped.stdout)["events"][0]["skipped"] == "no action's trigger matches this page"
