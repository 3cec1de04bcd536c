"""The local commands as a user meets them (`python -m local.…` is what `make` runs): ordinary slips
answered in one line that names the setting and what to do, never a traceback or a hang (#21 §1), and
the dev terminal telling what happened to an event (#21 §2)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.conftest import Api
from tests.dev_server import ROOT, dev_server, run


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def busy() -> Iterator[int]:
    """A port something already listens on."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening.getsockname()[1]


@pytest.mark.parametrize("setting", ["PORT", "SANDBOX_PORT", "AWS_PORT"])
def test_make_dev_on_a_busy_port_says_which_and_what_to_do(busy: int, setting: str) -> None:
    line = one_line(run("local.dev", env={setting: str(busy)}))
    assert f"port {busy} ({setting}) is in use" in line
    assert f"{setting}={busy + 100} make dev" in line


def test_make_dev_with_an_empty_write_key_says_so() -> None:
    line = one_line(run("local.dev", env={"WRITE_KEY": ""}))
    assert "WRITE_KEY is empty" in line
    assert "WRITE_KEY=my-key make dev" in line


@pytest.mark.parametrize(("module", "env"), [("local.replay", {}), ("local.forget", {"USER_ID": "u-1"})])
def test_replay_and_forget_without_a_running_stack_say_how_to_start_one(module: str, env: dict[str, str]) -> None:
    port = free_port()
    line = one_line(run(module, env={"AWS_PORT": str(port), **env}))
    assert f"no local stack answers on 127.0.0.1:{port} (AWS_PORT)" in line
    assert "make dev" in line


SETTING_SLIPS: list[tuple[list[str], dict[str, str], list[str]]] = [
    (["local.dev"], {"PORT": "abc"}, ["PORT='abc' is not a port number", "PORT=3100"]),
    (["local.dev"], {"SANDBOX_PORT": "70000"}, ["SANDBOX_PORT='70000' is not a port number", "SANDBOX_PORT=3101"]),
    (["local.dev"], {"INSTANCES": "0"}, ["INSTANCES='0' must be a whole number from 1 to 16", "INSTANCES=3 make dev"]),
    (
        ["local.dev"],
        {"INTERCOM_API_BASE": "api.intercom.io"},
        ["INTERCOM_API_BASE='api.intercom.io' is not an http(s) URL", "leave it unset"],
    ),
    (
        ["local.dev"],
        {"LEAD_HANDLING": "bogus"},
        ["LEAD_HANDLING='bogus' is not valid", "'lead', 'user' or 'skip'", "unset it"],
    ),
    (["local.dev"], {"INTERCOM_REGION": "mars"}, ["INTERCOM_REGION='mars' is not valid", "one of US, EU, AU"]),
    (["local.replay"], {"AWS_PORT": "x"}, ["AWS_PORT='x' is not a port number", "AWS_PORT=3102"]),
    (
        ["local.forget"],
        {"USER_ID": "u-1", "MAX_BATCH_EVENTS": "many"},
        ["MAX_BATCH_EVENTS='many' is not valid", "valid integer"],
    ),
    (["local.actions", "check"], {"REDRIVE_LIVE_SHARE": "2"}, ["REDRIVE_LIVE_SHARE='2' is not valid", "less than 1"]),
    (
        ["local.actions", "preview", "no-such-event.json"],
        {},
        ["EVENT=no-such-event.json: No such file", "EVENT=events/track.json"],
    ),
    (["local.actions", "preview", "README.md"], {}, ["EVENT=README.md: body is not valid JSON"]),
]


@pytest.mark.parametrize(("command", "env", "expected"), SETTING_SLIPS, ids=lambda value: str(value))
def test_every_wrong_setting_is_named_with_a_remedy(
    command: list[str], env: dict[str, str], expected: list[str]
) -> None:
    line = one_line(run(*command, env=env))
    for part in expected:
        assert part in line


def _without_tools(tmp_path: Path) -> dict[str, str]:
    """A PATH that has make's shell tools but neither chromium, npm nor apt-get."""
    (tmp_path / "bin").mkdir()
    for tool in ("sh", "id", "cat", "cksum", "cut", "touch"):
        (tmp_path / "bin" / tool).symlink_to(str(Path("/bin", tool).resolve()))
    return {**os.environ, "PATH": str(tmp_path / "bin")}


@pytest.mark.parametrize(("flags", "tool"), [([], "Chromium"), (["-W", "tests/web/package.json"], "npm 7 or newer")])
def test_make_test_without_the_browser_tools_names_the_missing_one(tmp_path: Path, flags: list[str], tool: str) -> None:
    make = shutil.which("make") or "/usr/bin/make"
    done = subprocess.run(  # noqa: S603
        [make, "-s", *flags, "browser"], cwd=ROOT, env=_without_tools(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"make: the browser tests need {tool}" in done.stderr
    assert "run make test again" in done.stderr


def test_the_dev_terminal_says_why_an_event_was_queued_or_parked_and_what_happens_next() -> None:
    """`make dev` as a user runs it: the terminal shows, for each queued or parked event, the person (a
    hash), the action, Intercom's answer and what happens next (#21 §2)."""
    with dev_server() as dev:
        endpoint, sandbox = dev.endpoint, dev.sandbox
        http = urllib3.PoolManager()
        headers = urllib3.make_headers(basic_auth="dev-write-key:")
        track = {"type": "track", "userId": "nobody-yet", "event": "Viewed", "messageId": "queued-1"}
        assert http.request("POST", f"{endpoint}/v1/batch", json={"batch": [track]}, headers=headers).status == 200
        http.request("POST", f"{sandbox}/_sandbox/config", json={"faults": [{"status": 400, "path": "/contacts"}]})
        identify = {"type": "identify", "userId": "u-9", "messageId": "parked-1", "traits": {"plan": "pro"}}
        assert http.request("POST", f"{endpoint}/v1/batch", json={"batch": [identify]}, headers=headers).status == 200
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 2:
            line = dev.next_line()
            assert line, seen
            if line.startswith("{") and '"outcome"' in line:
                record = json.loads(line)
                seen[record["message_id"]] = record
        queued, parked = seen["queued-1"], seen["parked-1"]
        assert (queued["message"], queued["type"], queued["code"]) == ("event queued", "track", "contact_not_found")
        assert "make replay" in queued["next"]
        assert (parked["message"], parked["type"], parked["status"]) == ("event parked", "identify", 400)
        assert "make unpark" in parked["next"]
        assert len(queued["person"]) == 16
        assert "nobody-yet" not in queued["person"]


def test_a_batch_posted_to_a_single_call_path_is_told_where_it_goes(api: Api) -> None:
    reply = api.post("/v1/identify", {"batch": [{"type": "identify", "userId": "u-1"}]})
    assert (reply.status, reply.body["code"]) == (400, "invalid_request")
    assert reply.body["message"] == "this body is a batch: post it to /v1/batch, not /v1/identify"


def test_a_signed_webhook_with_no_secret_configured_says_so(api: Api) -> None:
    body = json.dumps({"type": "track", "userId": "u-1", "event": "Viewed"}).encode()
    reply = api.post("/v1/webhook", key=None, raw=body, headers={"X-Signature": "0" * 40})
    assert reply.status == 401
    assert "no webhook secret is configured" in reply.body["message"]
    assert "WEBHOOK_SECRET" in reply.body["message"]


@pytest.mark.parametrize(("target", "venv"), [("install", "VENV"), ("sam", "SAM_VENV")])
def test_make_with_a_python_too_old_says_so_in_one_line(tmp_path: Path, target: str, venv: str) -> None:
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\n[ "$1" = "--version" ] && echo "Python 3.9.18" && exit 0\nexit 1\n')
    old.chmod(0o755)
    done = subprocess.run(  # noqa: S603
        ["make", target, f"PYTHON={old}", f"{venv}={tmp_path / 'venv'}"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Python 3.11 or newer is needed" in done.stderr
    assert "Python 3.9.18" in done.stderr
    assert not (tmp_path / "venv").exists()
