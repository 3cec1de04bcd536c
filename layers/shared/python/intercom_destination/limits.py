"""Sliding-window budgets: how many custom attributes one instance may create a minute (attributes.py),
and how many requests one source address may send with a browser key (ingest)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class Budget:
    """At most `limit` takes per `period` seconds (a sliding window), shared by the delivery threads."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._taken: deque[float] = deque()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._taken and now - self._taken[0] >= self._period:
                self._taken.popleft()
            if len(self._taken) >= self._limit:
                return False
            self._taken.append(now)
            return True


class PerAddress:
    """At most `limit` requests a minute from one source address, in this function instance (Lambda runs
    many: the limit holds per instance, a bound on what one address costs, not an exact quota). The
    addresses remembered are bounded too, least recently seen first out."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic, max_addresses: int = 10_000) -> None:
        self._limit = limit
        self._clock = clock
        self._max = max_addresses
        self._lock = threading.Lock()
        self._budgets: OrderedDict[str, Budget] = OrderedDict()

    def take(self, address: str) -> bool:
        with self._lock:
            budget = self._budgets.pop(address, None) or Budget(self._limit, 60.0, self._clock)
            self._budgets[address] = budget
            while len(self._budgets) > self._max:
                self._budgets.popitem(last=False)
        return budget.take()
