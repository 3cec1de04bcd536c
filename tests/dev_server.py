"""`make dev` as a user runs it (`python -m local.dev`, in a user's environment, on free ports): for the
tests that read its terminal or call it as a client would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]


def user_env(**env: str) -> dict[str, str]:
    """A user's shell: none of the function settings the test session's stack put in this process's
    environment (INTERCOM_API_BASE there would make `make dev` use it instead of a sandbox)."""
    from intercom_destination.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    clean = {k: v for k, v in os.environ.items() if k not in settings and not k.startswith("AWS_ENDPOINT_URL")}
    return {**clean, "PORT": "0", "SANDBOX_PORT": "0", "AWS_PORT": "0", **env}


@dataclass
class DevServer:
    process: subprocess.Popen[str]
    endpoint: str  # the destination, as the banner prints it
    sandbox: str  # the Intercom sandbox


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
        yield DevServer(process, endpoint, sandbox)
    finally:
        process.terminate()
        process.wait(timeout=30)
