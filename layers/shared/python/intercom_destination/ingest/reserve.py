"""How long a request keeps, after its last Intercom call, for its finishing work (queueing what waits,
releasing claims, its completion and person records): learned from the requests this instance finished.
An instance whose DynamoDB or SQS is slow (throttled, far, a busy core, the local emulator) stops
delivering earlier and queues more, so its answer still leaves within the budget; each fast request
then gives back a fifth of what a slow one took."""

from __future__ import annotations

import threading

#: Kept whatever the request's size: a few parallel calls of 5-20 ms each.
BASE_SECONDS = 0.25
#: Seconds per event before this instance has measured any (DynamoDB and SQS calls run in parallel batches).
FIRST_RATE = 0.001
#: The learned rate never goes below this, however fast the requests were.
FLOOR_RATE = 0.0002
#: A measured rate is kept with this margin: the next request may meet a slower moment.
MARGIN = 1.5
#: A fast request lowers the learned rate by this factor; a slow one raises it to what it measured at once.
DECAY = 0.8
#: Never more than this share of the budget: delivering some events beats answering 503 for all.
MAX_SHARE = 0.8


class FinishingReserve:
    def __init__(self) -> None:
        self._rate = FIRST_RATE
        self._lock = threading.Lock()

    def seconds(self, events: int, budget: float) -> float:
        """What a request of `events` events keeps for finishing, out of `budget` seconds."""
        return min(BASE_SECONDS + self._rate * events, budget * MAX_SHARE)

    def observe(self, events: int, seconds: float) -> None:
        """A finished request's finishing time: its rate per event beyond the base, remembered (newest
        slowness wins at once, old slowness fades)."""
        if events <= 0:
            return
        measured = MARGIN * max(seconds - BASE_SECONDS, 0.0) / events
        with self._lock:
            self._rate = max(measured, self._rate * DECAY, FLOOR_RATE)
