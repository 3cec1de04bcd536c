"""Splitting AWS work into the batches a call takes, and running independent calls side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in runs of at most `size` (DynamoDB's 25 and 100, SQS's 10 per call)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def fan_out(executor: Executor | None, call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`call` on every item, in parallel when an executor is given and there is more than one: a
    2,500-event request must not make its AWS calls in a row. Results in the order of `items`."""
    if executor is None or len(items) < 2:
        return [call(item) for item in items]
    return list(executor.map(call, items))
