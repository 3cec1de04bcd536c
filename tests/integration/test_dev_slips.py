"""Ordinary slips with the local commands answered in one line that names the setting and what to do,
never a traceback or a hang (#21 §1), as a user meets them: `python -m local.…` is what `make` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def run(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", module]
    full = {**os.environ, "PORT": "0", "SANDBOX_PORT": "0", "AWS_PORT": "0", **env}
    return subprocess.run(command, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)  # noqa: S603


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
    line = one_line(run("local.dev", **{setting: str(busy)}))
    assert f"port {busy} ({setting}) is in use" in line
    assert f"{setting}={busy + 100} make dev" in line


def test_make_dev_with_an_empty_write_key_says_so() -> None:
    line = one_line(run("local.dev", WRITE_KEY=""))
    assert "WRITE_KEY is empty" in line
    assert "WRITE_KEY=my-key make dev" in line


@pytest.mark.parametrize(("module", "env"), [("local.replay", {}), ("local.forget", {"USER_ID": "u-1"})])
def test_replay_and_forget_without_a_running_stack_say_how_to_start_one(module: str, env: dict[str, str]) -> None:
    port = free_port()
    line = one_line(run(module, AWS_PORT=str(port), **env))
    assert f"no local stack answers on 127.0.0.1:{port} (AWS_PORT)" in line
    assert "make dev" in line
