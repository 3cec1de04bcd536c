"""The Intercom calls a function made, for its per-invocation metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    """One attempt: Intercom's status (0 when no answer came) and how long it took."""

    status: int
    seconds: float


class CallLog:
    """The attempts made since the handler last drained it: per invocation, they become the dashboard's
    Intercom calls, throttles, server errors and latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, status: int, seconds: float) -> None:
        with self._lock:
            self._calls.append(Call(status, seconds))

    def drain(self) -> list[Call]:
        with self._lock:
            calls, self._calls = self._calls, []
        return calls
