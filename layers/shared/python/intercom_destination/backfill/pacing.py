"""A backfill's pace: at most its share of Intercom's rate-limit window, after live traffic's.

Intercom's X-RateLimit-* headers describe the app's whole window (live traffic's calls included), so a
backfill that stops while no more than `1 - share` of the limit remains leaves live traffic at least
that much, whatever live traffic is doing; when live traffic uses more, the backfill gets less. Before
each chunk the pacer sizes it to what the window still allows (at the calls per event seen so far), or
waits for the window to reset; a 429 spends the window (intercom.rate_limit), so the backfill pauses
until it resets. Live events never wait: they run in their own functions, and keep their share.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from intercom_destination.intercom.rate_limit import RateLimitState

#: Events of the first chunk, before any answer told us the window (and what an event costs).
FIRST_CHUNK = 10
#: Calls per event assumed until measured (an identify of a new user is 1-2, a track 1).
_FIRST_CALLS_PER_EVENT = 2.0


class Pacer:
    def __init__(
        self,
        window: RateLimitState,
        share: float,
        chunk_events: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._window = window
        self.share = share
        self._chunk = chunk_events
        self._sleep = sleep
        self._clock = clock
        self._calls = 0
        self._events = 0
        self.paused_seconds = 0.0

    @property
    def calls_per_event(self) -> float:
        return self._calls / self._events if self._calls else _FIRST_CALLS_PER_EVENT

    def observe(self, events: int, calls: int) -> None:
        """A chunk of `events` made `calls` Intercom calls."""
        self._events += events
        self._calls += calls

    def next_chunk(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Events the next chunk may hold (at least 1), after waiting as long as the window is spent down to
        live traffic's part; 0 when `stop()` says to end while waiting."""
        while True:
            size = self._allowed()
            if size > 0:
                return size
            pause = max(self._window.reset_at - self._clock(), 0.05)
            if stop():
                return 0
            self._sleep(min(pause, 1.0))  # wakes at least once a second to see `stop`
            self.paused_seconds += min(pause, 1.0)

    def _allowed(self) -> int:
        window = self._window
        if window.remaining is None or window.limit is None:
            return FIRST_CHUNK if self._events == 0 else self._chunk
        if self._clock() >= window.reset_at:  # a new window: its first answers will say where it stands
            return min(self._chunk, max(int(self.share * window.limit / self.calls_per_event), 1))
        spare = window.remaining - (1 - self.share) * window.limit
        return min(self._chunk, int(spare / self.calls_per_event))
