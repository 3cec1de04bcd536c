"""Talks to a running sandbox's control endpoints over HTTP (tests, benchmarks, `make dev` users)."""

from __future__ import annotations

import json
from typing import Any

import urllib3


class SandboxControl:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = urllib3.PoolManager()

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/state")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sandbox/requests")  # type: ignore[return-value]

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return self._call("POST", "/_sandbox/config", knobs)

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self._http.request(method, self.url + path, body=None if body is None else json.dumps(body))
        if response.status != 200:
            raise RuntimeError(f"sandbox {path}: {response.status} {response.data[:300]!r}")
        result: dict[str, Any] = json.loads(response.data)
        return result
