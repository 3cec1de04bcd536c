"""The long durability check (`make soak`): 1,000 events while 20 % of Intercom calls fail, replayed
until the dead-letter queue is empty; then every event must be in Intercom exactly once.

Prints a table; the smaller version of this runs in `make test` (tests/integration/test_durability.py).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from typing import Any

from benchmarks.run import markdown
from local import stack as local_stack
from local.sandbox import SandboxControl
from tests.conftest import Api

BASE = 1795168800  # 2026-11-20T10:00:00Z


def events_for(count: int, users: int, rng: random.Random) -> list[dict[str, Any]]:
    people = [f"user-{n}" for n in range(users)]
    events: list[dict[str, Any]] = [
        {"type": "identify", "userId": p, "messageId": f"i-{p}", "traits": {"email": f"{p}@example.com", "plan": "pro"}}
        for p in people
    ]
    events += [
        {
            "type": "group",
            "userId": p,
            "groupId": f"co-{n % 10}",
            "messageId": f"g-{p}",
            "traits": {"name": f"Co {n % 10}"},
        }
        for n, p in enumerate(people)
    ]
    for n in range(count - len(events)):
        events.append({
            "type": "track",
            "userId": rng.choice(people),
            "event": f"Event {n % 9}",
            "messageId": f"t-{n}",
            "timestamp": BASE + n,
        })  # fmt: skip
    return events


def soak(running: local_stack.Stack, count: int, users: int, fault_rate: float, batch: int) -> list[tuple[str, str]]:
    api, sandbox = Api(running.url), SandboxControl(running.intercom_api_base)
    sandbox.reset()
    running.clear()
    local_stack.configure(**running.function_env(REDRIVE_BACKOFF_SECONDS="1"))
    events = events_for(count, users, random.Random(1))
    half = fault_rate / 2
    sandbox.configure(faults=[{"status": 500, "rate": half}, {"status": 503, "rate": half / (1 - half)}], seed=1)

    started = time.perf_counter()
    statuses = Counter(api.batch(*events[i : i + batch]).status for i in range(0, len(events), batch))
    ingest_seconds = time.perf_counter() - started
    queued_at_ingest = running.depth()

    runs = 0
    while running.depth() and runs < 300:
        running.replay()
        runs += 1
        time.sleep(0.5)
    drain_seconds = time.perf_counter() - started - ingest_seconds

    state, requests = sandbox.state(), sandbox.requests()
    tracks = [e for e in events if e["type"] == "track"]
    delivered = Counter((e["user_id"], e["event_name"], e["created_at"]) for e in state["events"])
    expected = Counter((e["userId"], e["event"], e["timestamp"]) for e in tracks)
    posts = sum(1 for r in requests if r["path"] == "/events" and r["status"] == 202)
    failures = sum(1 for r in requests if r["status"] >= 500)
    exact = delivered == expected and len(state["contacts"]) == users and running.depth(parked=True) == 0
    return [
        ("events sent (identify / group / track)", f"{count} ({users} / {users} / {len(tracks)})"),
        ("Intercom calls failing (injected)", f"{fault_rate:.0%}: {failures} of {len(requests)} calls"),
        ("answers to the SDK", ", ".join(f"{n} × {s}" for s, n in sorted(statuses.items()))),
        ("time to accept all batches", f"{ingest_seconds:.1f} s"),
        ("queued at ingest", str(queued_at_ingest)),
        ("redrive runs to empty the queue", f"{runs} ({drain_seconds:.1f} s, backoff from 1 s)"),
        ("contacts in Intercom / users", f"{len(state['contacts'])} / {users}"),
        ("events in Intercom / sent", f"{sum(delivered.values())} / {len(tracks)}"),
        ("events accepted by Intercom more than once", str(posts - len(tracks))),
        ("parked", str(running.depth(parked=True))),
        ("every event exactly once", "yes" if exact and posts == len(tracks) else "NO"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=100, help="events per SDK request (default 100)")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    running = local_stack.start()
    try:
        rows = soak(running, args.events, args.users, args.fault_rate, args.batch)
        print(markdown(("", "result"), rows))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
