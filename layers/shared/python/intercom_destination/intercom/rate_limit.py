"""Intercom's rate-limit window as its X-RateLimit-* headers last described it, shared by every thread of a
function: when the window is spent, no call is made until it resets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import urllib3

from intercom_destination.intercom.errors import RateLimitedError

T = TypeVar("T")
#: Resets a backfill's call waits for before it is queued like a live one (a window is 10 s).
WINDOW_WAITS = 3


class RateLimitState:
    """What X-RateLimit-* last said, shared by every thread: when the window is spent we stop calling."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float = 0.0

    def observe(self, headers: urllib3.HTTPHeaderDict) -> None:
        try:
            remaining = int(headers["X-RateLimit-Remaining"])
            reset_at = float(headers["X-RateLimit-Reset"])
            limit = int(headers.get("X-RateLimit-Limit", "0")) or None
        except (KeyError, ValueError):
            return
        with self._lock:
            self.remaining, self.reset_at, self.limit = remaining, reset_at, limit

    def spent(self, reset_at: float) -> None:
        with self._lock:
            self.remaining, self.reset_at = 0, max(self.reset_at, reset_at)

    def wait_for(self, reserve: float, now: float) -> float:
        """Seconds until the window resets if no more than `reserve` (a share of the limit) is left in it:
        the redrive waits that long, so live traffic keeps its share of Intercom's budget."""
        with self._lock:
            if self.remaining is None or now >= self.reset_at:
                return 0.0
            kept = reserve * self.limit if self.limit else 0.0
            return self.reset_at - now if self.remaining <= kept or self.remaining <= 0 else 0.0

    def check(self, now: float) -> None:
        """Raise instead of calling while the current window has no requests left."""
        with self._lock:
            if self.remaining is not None and self.remaining <= 0 and now < self.reset_at:
                raise RateLimitedError(self.reset_at, "rate-limit window spent; not calling until it resets")

    def waiting_out(self, call: Callable[[], T], can_wait: Callable[[float], bool]) -> T:
        """`call`, and when the window is spent (a 429, or none left) the same call after the reset, while
        `can_wait` says the wait fits (the call's deadline), WINDOW_WAITS times at most: what a backfill
        does, where a live call is queued at once."""
        waits = 0
        while True:
            try:
                return call()
            except RateLimitedError as spent:
                pause = max(spent.reset_at - time.time(), 0) + 0.05
                if waits >= WINDOW_WAITS or not can_wait(pause):
                    raise
                waits += 1
                time.sleep(pause)
