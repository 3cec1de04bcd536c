"""Several warm instances of the ingest function, as Lambda runs a busy one (part of `make bench`):

1. Intercom calls per event with 1 and with 4 instances (each its own process and memory, requests
   spread round-robin), first-seen and repeat traffic: what an instance remembers is a cache of the
   person record, so repeat traffic costs the same however many instances share it.
2. Two identifies of one person (an older and a newer) handled at the same moment by two instances while
   Intercom is slow: how often the older write lands last (no per-person lock: see
   docs/consistency.md), and how often the person's next identify of the newer traits repairs it.
3. An instance killed mid-request, after its claims: how long the SDK's resend to another instance is
   answered 503 before it is accepted (the dead request's claims must lapse first).

Local stack (sandbox Intercom, moto); not measured: Lambda's own routing and real latencies.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.run import markdown
from local import stack as local_stack
from local.instances import Instances
from local.sandbox import SandboxControl
from tests.conftest import Api, Reply

_ids = itertools.count()
SLOW = [{"status": 0, "delay_seconds": 0.15, "path": "/contacts.*", "rate": 0.5}]


def _identify(user: str, minute: int = 0, plan: str = "pro") -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "anonymousId": f"anon-{user}",
        "messageId": f"m{next(_ids)}",
        "timestamp": f"2026-12-01T{10 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "traits": {"email": f"{user}@example.com", "plan": plan},
    }


def _group(user: str) -> dict[str, Any]:
    return {"type": "group", "userId": user, "groupId": f"co-{user}", "messageId": f"m{next(_ids)}"}


def _track(user: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": "Viewed", "messageId": f"m{next(_ids)}"}


class _Endpoint(Api):
    def on(self, instance: int, *events: dict[str, Any]) -> Reply:
        return self.batch(*events, headers={"X-Dev-Instance": str(instance)})


def _running(stack: local_stack.Stack, count: int, **settings: str) -> Instances:
    return Instances(count, stack.function_env(**settings)).start()


def calls_table(stack: local_stack.Stack, sandbox: SandboxControl, people: int) -> list[tuple[str, ...]]:
    """One request per person and kind (so round-robin spreads each person over the instances)."""
    kinds: dict[str, Callable[[str], dict[str, Any]]] = {"identify": _identify, "group": _group, "track": _track}
    figures: dict[tuple[int, str, str], float] = {}
    for count in (1, 4):
        sandbox.reset()
        stack.clear()
        running = _running(stack, count)
        try:
            endpoint = _Endpoint(running.url)
            for phase in ("first seen", "repeat", "repeat again"):
                for kind, make in kinds.items():
                    before = len(sandbox.requests())
                    for n in range(people):
                        assert endpoint.batch(make(f"p{n}")).status == 200
                    figures[count, phase, kind] = (len(sandbox.requests()) - before) / people
        finally:
            running.stop()
    return [
        (f"{kind}, {phase}", f"{figures[1, phase, kind]:.2f}", f"{figures[4, phase, kind]:.2f}")
        for phase in ("first seen", "repeat", "repeat again")
        for kind in kinds
    ]


def race_table(stack: local_stack.Stack, sandbox: SandboxControl, pairs: int) -> list[tuple[str, ...]]:
    sandbox.reset()
    stack.clear()
    sandbox.configure(faults=SLOW, seed=7)
    running = _running(stack, 2)
    lost = repaired = 0
    try:
        endpoint = _Endpoint(running.url)
        for trial in range(pairs):
            person = f"r{trial}"
            barrier = threading.Barrier(2)

            def send(instance: int, minute: int, person: str = person, barrier: threading.Barrier = barrier) -> int:
                barrier.wait()
                return endpoint.on(instance, _identify(person, minute, f"v{minute}")).status

            with ThreadPoolExecutor(2) as pool:
                assert list(pool.map(send, (1, 2), (0, 1))) == [200, 200]
            if _plan(sandbox, person) == "v1":
                continue
            lost += 1
            assert endpoint.on(1 + trial % 2, _identify(person, 2, "v1")).status == 200  # the next page view
            repaired += _plan(sandbox, person) == "v1"
    finally:
        running.stop()
    return [(str(pairs), str(lost), f"{lost / pairs:.0%}", f"{repaired} of {lost}")]


def _plan(sandbox: SandboxControl, person: str) -> str:
    (contact,) = [c for c in sandbox.state()["contacts"] if c["external_id"] == person]
    return str(contact["custom_attributes"]["plan"])


def crash_table(stack: local_stack.Stack, sandbox: SandboxControl, runs: int) -> list[tuple[str, ...]]:
    from intercom_destination.config.settings import Settings  # after local: it puts the layer on the path

    settings = Settings()
    claim = settings.delivery_budget_seconds + settings.intercom_read_timeout + 5
    waits = []
    for run in range(runs):
        sandbox.reset()
        stack.clear()
        running = _running(stack, 2)
        try:
            endpoint = _Endpoint(running.url)
            user = f"crash-{run}"
            assert endpoint.on(1, _identify(user)).status == 200
            sandbox.configure(latency_ms=1500)
            batch = [_identify(user, 5, "paid"), _track(user)]
            sending = threading.Thread(target=lambda: endpoint.on(1, *batch))  # noqa: B023
            sending.start()
            time.sleep(0.8)  # claimed; its first Intercom call in flight
            running.kill(1)
            sending.join()
            sandbox.configure(latency_ms=0)
            started = time.monotonic()
            while endpoint.on(2, *batch).status == 503:
                time.sleep(0.25)
            waits.append(time.monotonic() - started + 0.8)
        finally:
            running.stop()
    return [
        (
            f"{min(waits):.1f}",
            f"{statistics.median(waits):.1f}",
            f"{claim:.0f} s = budget {settings.delivery_budget_seconds:g} + Intercom read timeout "
            f"{settings.intercom_read_timeout:g} + 5 s margin, from the claim",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=12, help="people per calls-table row (default 12)")
    parser.add_argument("--pairs", type=int, default=20, help="concurrent identify pairs (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="crash runs (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    stack = local_stack.start()
    try:
        sandbox = SandboxControl(stack.intercom_api_base)
        print(f"\nIntercom calls per event, 1 and 4 instances, round-robin ({args.people} people)\n")
        print(markdown(("event", "1 instance", "4 instances"), calls_table(stack, sandbox, args.people)))
        print("\nAn older and a newer identify of one person at the same moment on two instances, Intercom slow\n")
        headers = ("pairs", "older write landed last", "rate", "repaired by the next identify")
        print(markdown(headers, race_table(stack, sandbox, args.pairs)))
        print("\nAn instance killed mid-request: seconds until the SDK's resend is accepted by another\n")
        print(markdown(("min", "median", "why"), crash_table(stack, sandbox, args.runs)))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
