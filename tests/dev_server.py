"""`make dev` as a user runs it (`python -m local.dev`, in a user's environment, on free ports): for the
tests that read its terminal or call it as a client would."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parents[1]


def user_env(**env: str) -> dict[str, str]:
    """A user's shell: none of the function settings the test session's stack put in this process's
    environment (INTERCOM_API_BASE there would make `make dev` use it instead of a sandbox)."""
    from intercom_destination.config.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    ours = ("AWS_ENDPOINT_URL", "POWERTOOLS_")  # the session stack's endpoints and log level
    clean = {k: v for k, v in os.environ.items() if k not in settings and not k.startswith(ours)}
    return {**clean, "PORT": "0", "SANDBOX_PORT": "0", "AWS_PORT": "0", **env}


def run(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A local command (`python -m local.…`, what `make` runs) in a user's environment plus `env`."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=user_env(**(env or {})), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class DevServer:
    process: subprocess.Popen[str]
    endpoint: str  # the destination, as the banner prints it
    sandbox: str  # the Intercom sandbox
    aws: str  # the embedded SQS and DynamoDB
    banner: str

    lines: queue.Queue[str] = field(default_factory=queue.Queue)  # the terminal after the banner

    def next_line(self, timeout: float = 30) -> str:
        """The terminal's next line ("" once the process ended), read off the pipe by a thread so that
        the process never blocks on a full pipe."""
        return self.lines.get(timeout=timeout)

    def env(self) -> dict[str, str]:
        """What `make replay`, `unpark` and `forget` need to find this stack (its ports)."""
        return {"SANDBOX_PORT": self.sandbox.rsplit(":", 1)[1], "AWS_PORT": self.aws.rsplit(":", 1)[1]}


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put("")


@contextmanager
def dev_server(**env: str) -> Iterator[DevServer]:
    """Starts `make dev`'s program, reads its banner for the URLs, and stops it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.dev"],
        cwd=ROOT,
        env=user_env(PYTHONUNBUFFERED="1", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C stops everything" not in banner:
            line = process.stdout.readline()
            assert line, banner
            banner += line
        endpoint = re.search(r"endpoint\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        sandbox = re.search(r"sandbox at (http://\S+)", banner).group(1)  # type: ignore[union-attr]
        aws = re.search(r"SQS, DynamoDB\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        running = DevServer(process, endpoint, sandbox, aws, banner)
        threading.Thread(target=_drain, args=(process, running.lines), daemon=True).start()
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)
