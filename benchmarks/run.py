"""Cost and speed of the destination, printed as tables (`make bench`). Never asserted in tests.

1. Intercom calls per analytics call — Intercom's rate limit is the scarce resource — for each
   scenario, next to what Segment's and RudderStack's Intercom destinations spend
   (from their public source code).
2. Time to answer an SDK batch through the full local path (HTTP → adapter → handler → Intercom
   sandbox), with the sandbox answering after a simulated Intercom round trip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from local import stack as local_stack
from local.sandbox import SandboxControl
from tests.conftest import Api

#: (Segment actions-intercom-cloud, RudderStack intercom v2), read from their public source code.
PEERS = {
    "identify, new user": ("2", "2"),
    "identify, known user (warm function)": ("2", "2"),
    "identify, known user (cold function)": ("2", "2"),
    "identify, known user, traits unchanged": ("2", "2"),
    "identify, lead (email only), new": ("2", "2"),
    "group, known user (warm function)": ("3", "3"),
    "group, known user (cold function)": ("3", "3"),
    "group, known user, company unchanged": ("3", "3"),
    "group, company only (no user)": ("1", "2"),
    "track by userId": ("1", "1"),
    "track by email only (warm function)": ("2", "1*"),
    "page / screen / alias": ("-", "-"),
}


def identify(user: str | None, email: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "anonymousId": f"anon-{email}", "traits": {"email": email, **traits}}


def group(user: str, company: str) -> dict[str, Any]:
    return {"type": "group", "userId": user, "groupId": company, "traits": {"name": company}}


def track(user: str | None, email: str | None = None) -> dict[str, Any]:
    context = {"traits": {"email": email}} if email else {}
    return {
        "type": "track",
        "userId": user,
        "anonymousId": f"anon-{email or user}",
        "event": "Clicked",
        "context": context,
    }


class Bench:
    def __init__(self, running: local_stack.Stack) -> None:
        self.stack = running
        self.api = Api(running.url)
        self.sandbox = SandboxControl(running.intercom_api_base)

    def fresh(self, **knobs: Any) -> None:
        self.sandbox.reset()
        self.stack.clear()  # queues and messageId claims too: each scenario starts from nothing
        if knobs:
            self.sandbox.configure(**knobs)
        self.cold()

    def cold(self) -> None:
        local_stack.configure(**self.stack.function_env())

    def send(self, events: list[dict[str, Any]], per_request: int = 50) -> None:
        """Set-up traffic, every event accepted: in requests small enough for moto to answer within the
        time budget (hundreds of new people in one request outlast it there, not in AWS)."""
        for start in range(0, len(events), per_request):
            reply = self.api.batch(*events[start : start + per_request])
            assert reply.status == 200, reply.body

    def calls(self, *events: dict[str, Any], setup: Callable[[], None] | None = None) -> int:
        """Intercom requests spent on the last event, after `setup` and the earlier events ran."""
        *before, last = events
        if before:
            assert self.api.batch(*before).status == 200
        if setup:
            setup()
        start = len(self.sandbox.requests())
        reply = self.api.batch(last)
        assert reply.status == 200, reply.body
        return len(self.sandbox.requests()) - start


def cost_table(bench: Bench) -> list[tuple[str, str, str, str]]:
    # Warm-up: the custom-attribute list is read once per warm function and cached; keep it out of
    # the per-event figures by defining the one attribute used ("plan") first.
    scenarios: dict[str, Callable[[], int]] = {
        "identify, new user": lambda: bench.calls(identify("n1", "n1@example.com")),
        "identify, known user (warm function)": lambda: bench.calls(
            identify("k1", "k1@example.com"), identify("k1", "k1@example.com", name="K")
        ),
        "identify, known user (cold function)": lambda: bench.calls(
            identify("k2", "k2@example.com"), identify("k2", "k2@example.com", name="K"), setup=bench.cold
        ),
        "identify, known user, traits unchanged": lambda: bench.calls(
            identify("k3", "k3@example.com", name="K"),
            {**identify("k3", "k3@example.com", name="K"), "messageId": "again"},
        ),
        "identify, lead (email only), new": lambda: bench.calls(identify(None, "lead@example.com")),
        "group, known user (warm function)": lambda: bench.calls(identify("g1", "g1@example.com"), group("g1", "acme")),
        "group, known user (cold function)": lambda: bench.calls(
            identify("g2", "g2@example.com"), group("g2", "acme"), setup=bench.cold
        ),
        "group, known user, company unchanged": lambda: bench.calls(
            identify("g3", "g3@example.com"), group("g3", "acme"), {**group("g3", "acme"), "messageId": "again"}
        ),
        "group, company only (no user)": lambda: bench.calls({"type": "group", "groupId": "solo"}),
        "track by userId": lambda: bench.calls(identify("t1", "t1@example.com"), track("t1")),
        "track by email only (warm function)": lambda: bench.calls(
            identify(None, "t2@example.com"), track(None, "t2@example.com")
        ),
        "page / screen / alias": lambda: bench.calls({"type": "page", "userId": "p1", "name": "Home"}),
    }
    rows = []
    for name, scenario in scenarios.items():
        bench.fresh()
        ours = scenario()
        segment, rudderstack = PEERS[name]
        rows.append((name, str(ours), segment, rudderstack))
    return rows


def mixed_batch(size: int, users: int, round_: int) -> list[dict[str, Any]]:
    """identify, group, track, track per user; every event new (its own messageId), as SDK traffic is."""
    events: list[dict[str, Any]] = []
    for i in range(size):
        user = f"u{(i + round_ * size) % users}"
        kind = i % 4
        if kind == 0:
            event = identify(user, f"{user}@example.com", name=f"User {user}")
        elif kind == 1:
            event = group(user, f"co{i % 10}")
        else:
            event = {**track(user), "event": f"Event {i % 5}"}
        events.append({**event, "messageId": f"r{round_}-{i}"})
    return events


def latency_table(bench: Bench, rtt_ms: float, rounds: int) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for size, users in ((1, 1), (20, 5), (100, 25)):
        bench.fresh(latency_ms=rtt_ms, validate_requests=False)  # measure the destination, not the validator
        assert bench.api.batch(*(identify(f"u{u}", f"u{u}@example.com") for u in range(users))).status == 200
        timings, calls = [], []
        for round_ in range(rounds):
            start_calls = len(bench.sandbox.requests())
            started = time.perf_counter()
            reply = bench.api.batch(*mixed_batch(size, users, round_))
            timings.append((time.perf_counter() - started) * 1000)
            assert reply.status == 200, reply.body
            calls.append(len(bench.sandbox.requests()) - start_calls)
        timings.sort()
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        rows.append((
            f"{size} event{'s' * (size > 1)}, {users} user{'s' * (users > 1)}",
            f"{statistics.median(timings):.0f}",
            f"{p95:.0f}",
            f"{statistics.mean(calls) / size:.2f}",
            f"{size / (statistics.median(timings) / 1000):.0f}",
        ))  # fmt: skip
    return rows


def markdown(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtt-ms", type=float, default=50, help="simulated Intercom round trip (default 50)")
    parser.add_argument("--rounds", type=int, default=20, help="batches per latency row (default 20)")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the tables, not a log line per request
    running = local_stack.start()
    try:
        bench = Bench(running)
        print("Intercom calls per analytics call (fewer is better: Intercom allows ~10,000 a minute)\n")
        print(markdown(("scenario", "intercom-destination", "Segment", "RudderStack"), cost_table(bench)))
        print("\n* RudderStack sends the email and lets Intercom resolve it; that fails for leads and for")
        print("  emails shared by several users, which this destination resolves to a contact id first.")
        print(f"\nTime to answer an SDK batch (Intercom round trip simulated at {args.rtt_ms:.0f} ms)\n")
        headers = ("batch", "p50 ms", "p95 ms", "Intercom calls / event", "events/s at p50")
        print(markdown(headers, latency_table(bench, args.rtt_ms, args.rounds)))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
