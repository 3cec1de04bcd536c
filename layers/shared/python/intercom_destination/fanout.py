"""Splitting AWS work into the batches a call takes, and running independent calls side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
#: Set in a thread while it runs one of fan_out's calls.
_fanned = threading.local()


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in runs of at most `size` (DynamoDB's 25 and 100, SQS's 10 per call)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def fan_out(executor: Executor | None, call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`call` on every item, in parallel when an executor is given and there is more than one: a
    2,500-event request must not make its AWS calls in a row. Results in the order of `items`.

    A fan-out inside one of fan_out's calls runs in that thread, one item after another: its tasks would
    wait for workers of a bounded pool that its callers hold, and with every worker so holding, none
    would ever run (People.remember writes each person's record, which links their other names)."""
    if executor is None or len(items) < 2 or getattr(_fanned, "inside", False):
        return [call(item) for item in items]
    return list(executor.map(lambda item: _inside(call, item), items))


def _inside(call: Callable[[T], R], item: T) -> R:
    _fanned.inside = True
    try:
        return call(item)
    finally:
        _fanned.inside = False
