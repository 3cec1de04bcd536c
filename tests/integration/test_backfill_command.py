"""`make backfill` as a user runs it (#25): against a running `make dev` (found by its ports), with that
stack's actions file, a progress bar, a dry run that sends nothing, Ctrl-C and the same command again
delivering every event once."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import urllib3

from tests.dev_server import ROOT, DevServer, dev_server, run, user_env
from tests.events import identify, track

ACTIONS = {
    "actions": [
        {"name": "Signed Up Contact", "type": "identify_contact", "trigger": 'type = "identify"', "mapping": {}},
        {"name": "Orders Only", "type": "track_event", "trigger": 'type = "track" and event = "Order Completed"', "mapping": {}},
    ]
}  # fmt: skip


def archive(folder: Path, people: int) -> Path:
    lines = []
    for n in range(people):
        lines += [
            identify(f"u-{n}", f"i-{n}", email=f"u{n}@example.com") | {"timestamp": "2026-02-01T10:00:00Z"},
            track(f"u-{n}", "Order Completed", f"o-{n}") | {"timestamp": "2026-02-01T10:00:01Z"},
            track(f"u-{n}", "Page Scrolled", f"p-{n}") | {"timestamp": "2026-02-01T10:00:02Z"},
        ]
    path = folder / "segment-logs" / "src-1" / "1769904000000" / "part-0.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines) + b"oops\n"))
    return folder / "segment-logs"


def sandbox(dev: DevServer, path: str, body: Any = None) -> Any:
    method = "POST" if body is not None else "GET"
    answer = urllib3.request(method, f"{dev.sandbox}{path}", json=body, timeout=10)
    return answer.json()


def test_make_backfill_against_make_dev(tmp_path: Path) -> None:
    actions = tmp_path / "actions.json"
    actions.write_text(json.dumps(ACTIONS))
    folder = archive(tmp_path, people=30)
    with dev_server(ACTIONS_FILE=str(actions)) as dev:
        dry = run("local.backfill", str(folder), "--dry-run", env=dev.env())
        assert dry.returncode == 0, dry.stderr
        assert "dry run: 91 lines, 90 events; nothing was sent" in dry.stdout
        assert "by action: Orders Only 30, Signed Up Contact 30" in dry.stdout  # the running stack's actions
        assert "src-1/1769904000000/part-0.gz:91: not JSON" in dry.stdout
        assert "estimate:" in dry.stdout
        assert sandbox(dev, "/_sandbox/requests") == []

        sandbox(dev, "/_sandbox/config", {"latency_ms": 30})
        command = [sys.executable, "-m", "local.backfill", str(folder)]
        env = user_env(**dev.env(), BACKFILL_CHUNK_EVENTS="6", PYTHONUNBUFFERED="1")
        pipe = subprocess.PIPE
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=pipe, stderr=pipe, text=True)  # noqa: S603
        assert process.stderr is not None
        bar = ""
        while "events/s" not in bar:
            bar += process.stderr.read(1)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
        assert process.returncode == 3, rest
        assert "the same command goes on from there" in rest
        stopped_at = len(sandbox(dev, "/_sandbox/state")["events"])
        assert 0 < stopped_at < 30

        again = run("local.backfill", str(folder), env={**dev.env(), "BACKFILL_CHUNK_EVENTS": "6"}, timeout=120)
        assert again.returncode == 0, again.stderr
        assert "1 of 1 file(s) done, 91 lines" in again.stdout
        state = sandbox(dev, "/_sandbox/state")
        assert sorted(event["event_name"] for event in state["events"]) == ["Order Completed"] * 30  # once each
        assert len(state["contacts"]) == 30


def test_make_backfill_slips_say_what_to_do(tmp_path: Path) -> None:
    from tests.integration.test_dev_slips import free_port, one_line

    assert "FILE is not set" in one_line(run("local.backfill"))
    assert "FILE=nope.gz does not exist" in one_line(run("local.backfill", "nope.gz"))
    line = one_line(run("local.backfill", str(ROOT / "events"), "--share", "2"))
    assert "SHARE=2.0 is not a share of the rate limit" in line
    port = free_port()
    line = one_line(run("local.backfill", str(ROOT / "events"), env={"AWS_PORT": str(port)}))
    assert f"no local stack answers on 127.0.0.1:{port} (AWS_PORT)" in line
