"""fan_out never waits for a worker its own callers hold (a nested fan-out on one bounded pool)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from intercom_destination.fanout import fan_out


def test_a_fan_out_inside_a_fan_out_on_a_full_pool_finishes() -> None:
    """Two workers, each running an outer call that fans out again: before, each waited for a worker the
    other held, forever (People.remember → link, with more people than delivery lanes)."""
    done = threading.Event()
    result: list[list[list[int]]] = []
    pool = ThreadPoolExecutor(max_workers=2)

    def outer(n: int) -> list[int]:
        return fan_out(pool, lambda m: n * 10 + m, [1, 2, 3])

    def run() -> None:
        result.append(fan_out(pool, outer, [1, 2, 3, 4]))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(timeout=5)
    pool.shutdown(wait=False, cancel_futures=True)  # a deadlocked pool must not hang the test run too
    assert finished, "deadlocked"
    assert result == [[[11, 12, 13], [21, 22, 23], [31, 32, 33], [41, 42, 43]]]


def test_outer_calls_still_run_side_by_side() -> None:
    seen: set[str] = set()
    with ThreadPoolExecutor(max_workers=4) as pool:
        barrier = threading.Barrier(4, timeout=5)

        def wait_for_all(_: int) -> None:
            barrier.wait()  # only returns if the four calls run at once
            seen.add(threading.current_thread().name)

        fan_out(pool, wait_for_all, [1, 2, 3, 4])
    assert len(seen) == 4
