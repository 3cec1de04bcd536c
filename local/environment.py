"""The local commands' variables (ports, INSTANCES, INTERCOM_API_BASE, the function settings) read from the
environment. A wrong one stops the command with one line that names the variable and what to do, never a
traceback: `SystemExit` with that line, which Python prints to stderr with exit status 1."""

from __future__ import annotations

import os
import re

from intercom_destination.config.settings import Settings
from pydantic import ValidationError

#: The ports `make dev` listens on, and their defaults (`make replay`, `unpark`, `forget` find it by them).
PORTS = {"PORT": 3000, "SANDBOX_PORT": 3001, "AWS_PORT": 3002}

_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?$")


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def port(name: str) -> int:
    """PORT, SANDBOX_PORT or AWS_PORT: a TCP port number (0 asks the system for any free one)."""
    raw = _raw(name)
    if raw is None:
        return PORTS[name]
    if not raw.isdigit() or int(raw) > 65535:
        raise SystemExit(
            f"make: {name}={raw!r} is not a port number: use one from 1024 to 65535, e.g. {name}={PORTS[name] + 100}"
        )
    return int(raw)


def instances() -> int:
    """INSTANCES: how many ingest function instances `make dev` runs."""
    raw = _raw("INSTANCES") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise SystemExit(f"make: INSTANCES={raw!r} must be a whole number from 1 to 16, e.g. INSTANCES=3 make dev")
    return int(raw)


def api_base() -> str | None:
    """INTERCOM_API_BASE: another Intercom than the embedded sandbox (a real workspace, a proxy), or None."""
    raw = _raw("INTERCOM_API_BASE")
    if raw is not None and not _URL.match(raw):
        raise SystemExit(
            f"make: INTERCOM_API_BASE={raw!r} is not an http(s) URL: e.g. INTERCOM_API_BASE=https://api.intercom.io, "
            "or leave it unset for the embedded sandbox"
        )
    return raw


def settings(env: dict[str, str] | None = None) -> Settings:
    """The function settings (LEAD_HANDLING, MAX_BATCH_EVENTS, ...) as the functions will read them."""
    try:
        return Settings.from_env(env)
    except ValidationError as exc:
        source = os.environ if env is None else env
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
            reason = error["msg"].removeprefix("Value error, ")
            lines.append(
                f"make: {name}={source.get(name, '')!r} is not valid ({reason}): fix it, or unset it for the default"
            )
        raise SystemExit("\n".join(lines)) from None
