"""Intercom calls, speed, handler CPU and cold start, each beside a baseline measured in the same run
(part of `make bench`):

1. Intercom calls per event on first-seen and repeat-user traffic (traits re-sent unchanged, companies
   known), in a warm function and in a new one, against the naive baseline (benchmarks/naive.py: a
   lookup before every write, one event after another). Local stack, sandbox Intercom.
2. 500 tracks of 500 distinct users with Intercom answering in 50 ms: our answer time against the naive
   baseline sending the same events one after another. AWS is the modelled stand-in of budget.py.
3. Handler CPU per event for a 100-event batch, in-process, against instant Intercom and AWS stand-ins
   (benchmarks/instant.py: urllib3 and botocore still build, send and parse every call), durability
   work included; the naive baseline's CPU on the same stand-in beside it.
4. Ingest cold start: a new Python process with Lambda-like variables imports the function and handles
   its first request (instant stand-ins); beside it, the bare interpreter start, measured the same way.

Not measured here: real Intercom and AWS latencies, Lambda's own init, and Python 3.13 (this machine runs
3.11; the layer ships no bytecode, so Lambda compiles what it imports on every cold start).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.budget import modelled_aws
from benchmarks.instant import AWS_CALLS, InstantIntercom, api_request, instant_ingest, lambda_env
from benchmarks.naive import NaiveDestination
from benchmarks.run import Bench, markdown
from local import stack as local_stack

ROOT = Path(__file__).resolve().parents[1]
_ids = itertools.count()


def identify(user: str) -> dict[str, Any]:
    traits = {"email": f"{user}@example.com", "name": f"User {user}", "plan": "pro"}
    return {"type": "identify", "userId": user, "messageId": f"m{next(_ids)}", "traits": traits}


def lead(user: str) -> dict[str, Any]:
    traits = {"email": f"{user}@example.com"}
    return {"type": "identify", "anonymousId": f"a-{user}", "messageId": f"m{next(_ids)}", "traits": traits}


def group(user: str) -> dict[str, Any]:
    company = f"co{int(user[1:]) % 5}"
    return {
        "type": "group",
        "userId": user,
        "groupId": company,
        "messageId": f"m{next(_ids)}",
        "traits": {"name": company},
    }


def track(user: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": "Viewed", "messageId": f"m{next(_ids)}"}


def track_by_email(user: str) -> dict[str, Any]:
    context = {"traits": {"email": f"{user}@example.com"}}
    return {
        "type": "track",
        "anonymousId": f"a-{user}",
        "event": "Viewed",
        "messageId": f"m{next(_ids)}",
        "context": context,
    }


KINDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "identify": identify,
    "group": group,
    "track by userId": track,
    "identify, lead (email only)": lead,
    "track by email only": track_by_email,
}


# --- 1. calls per event ---------------------------------------------------------------------------------
def calls_table(bench: Bench, users: int) -> list[tuple[str, ...]]:
    people = [f"u{n}" for n in range(users)]

    def ours(kind: str) -> float:
        before = len(bench.sandbox.requests())
        assert bench.api.batch(*(KINDS[kind](user) for user in people)).status == 200
        return (len(bench.sandbox.requests()) - before) / users

    def naive(destination: NaiveDestination, kind: str) -> float:
        before = len(bench.sandbox.requests())
        destination.send([KINDS[kind](user) for user in people])
        return (len(bench.sandbox.requests()) - before) / users

    bench.fresh(validate_requests=False)
    first = {kind: ours(kind) for kind in KINDS}
    warm = {kind: ours(kind) for kind in KINDS}
    bench.cold()
    new = {kind: ours(kind) for kind in KINDS}
    bench.fresh(validate_requests=False)
    baseline = NaiveDestination(bench.stack.intercom_api_base)
    naive_first = {kind: naive(baseline, kind) for kind in KINDS}
    naive_repeat = {kind: naive(baseline, kind) for kind in KINDS}
    return [
        (
            kind,
            f"{first[kind]:.2f}",
            f"{naive_first[kind]:.2f}",
            f"{warm[kind]:.2f}",
            f"{new[kind]:.2f}",
            f"{naive_repeat[kind]:.2f}",
            f"{max(warm[kind], new[kind]) / naive_repeat[kind]:.2f}",
        )
        for kind in KINDS
    ]


# --- 2. speed ---------------------------------------------------------------------------------------------
def speed_table(bench: Bench, events: int, rtt_ms: float, runs: int) -> list[tuple[str, ...]]:
    batch = [track(f"s{n}") for n in range(events)]
    known(bench, events, rtt_ms)
    started = time.perf_counter()
    NaiveDestination(bench.stack.intercom_api_base).send(batch)
    sequential = time.perf_counter() - started
    rows: list[tuple[str, ...]] = [
        ("naive, one after another", "-", f"{sequential:.2f}", f"{sequential:.2f}", "1.0", "-")
    ]
    for concurrency in ("8", "16", "32"):
        timings, busiest = [], 0
        for _ in range(runs):
            known(bench, events, rtt_ms)
            with modelled_aws():
                local_stack.configure(**bench.stack.function_env(DELIVERY_CONCURRENCY=concurrency))
                started = time.perf_counter()
                reply = bench.api.batch(*({**event, "messageId": f"m{next(_ids)}"} for event in batch))
                timings.append(time.perf_counter() - started)
            assert reply.status == 200, reply.body
            busiest = max(busiest, _busiest_ten_seconds(bench))
        rows.append((
            f"intercom-destination, {concurrency} lanes",
            str(busiest),
            f"{min(timings):.2f}",
            f"{statistics.median(timings):.2f}",
            f"{sequential / statistics.median(timings):.1f}",
            "yes" if busiest <= 10_000 / 6 else "NO",
        ))  # fmt: skip
    bench.sandbox.configure(latency_ms=0)
    return rows


def known(bench: Bench, users: int, rtt_ms: float) -> None:
    """A fresh workspace where the users exist (so every track is delivered), then Intercom's latency."""
    bench.fresh(validate_requests=False)
    bench.send([identify(f"s{n}") for n in range(users)])
    bench.sandbox.configure(latency_ms=rtt_ms)
    bench.cold()


def _busiest_ten_seconds(bench: Bench) -> int:
    """Most calls the sandbox saw in any 10 s (Intercom's window: 10,000 a minute is ~1,666 per 10 s)."""
    times = sorted(r["at"] for r in bench.sandbox.requests() if r["path"] == "/events")
    return max((sum(1 for t in times[i:] if t - start < 10) for i, start in enumerate(times)), default=0)


# --- 3. CPU per event -------------------------------------------------------------------------------------
def cpu_table(runs: int) -> list[tuple[str, ...]]:
    users = [f"c{n}" for n in range(25)]
    mixes: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "100 tracks, 25 known users": lambda: [track(user) for user in users for _ in range(4)],
        "100 repeat events (identify, group, 2 tracks per user)": lambda: [
            event for user in users for event in (identify(user), group(user), track(user), track(user))
        ],
    }
    rows: list[tuple[str, ...]] = []
    saved = dict(os.environ)
    os.environ.update(lambda_env())
    with instant_ingest() as handle:
        for name, make in mixes.items():
            for _ in range(3):  # warm: the identity map learns the users, the attribute lists are read
                assert handle(api_request(make()))["statusCode"] == 200
            AWS_CALLS.clear()
            ours = [_cpu(lambda: handle(api_request(make()))) / 100 for _ in range(runs)]  # noqa: B023
            aws = ", ".join(f"{name} {count / runs:g}" for name, count in sorted(AWS_CALLS.items()))
            naive = NaiveDestination("https://intercom.invalid")
            naive._http = InstantIntercom()  # type: ignore[assignment]
            baseline = [_cpu(lambda: naive.send(make())) / 100 for _ in range(runs)]  # noqa: B023
            rows.append((
                name,
                f"{min(ours):.3f}",
                f"{statistics.median(ours):.3f}",
                f"{statistics.median(baseline):.3f}",
                f"{statistics.median(ours) / statistics.median(baseline):.1f}",
                aws,
            ))  # fmt: skip
    os.environ.clear()
    os.environ.update(saved)
    return rows


def _cpu(work: Callable[[], object]) -> float:
    """Process CPU milliseconds (every thread: the handler delivers in parallel lanes)."""
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000


# --- 4. cold start ----------------------------------------------------------------------------------------
def cold_start_table(runs: int) -> list[tuple[str, ...]]:
    env = {**os.environ, **lambda_env(), "PYTHONPATH": f"{ROOT / 'layers' / 'shared' / 'python'}:{ROOT}"}
    bare, parts = [], []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        bare.append(time.perf_counter() - started)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.coldstart"],
            check=True, env=env, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        parts.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def row(name: str, values: list[float]) -> tuple[str, ...]:
        return (name, f"{min(values) * 1000:.0f}", f"{statistics.median(values) * 1000:.0f}")

    return [
        row("bare interpreter start (baseline)", bare),
        row("import of the ingest function (boto3, powertools, pydantic, our layer)", [p["import"] for p in parts]),
        row("first request (settings, boto3 clients, first delivery)", [p["first"] for p in parts]),
        row("import + first request (the target: ≤ 300 ms)", [p["import"] + p["first"] for p in parts]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measured row (default 5)")
    parser.add_argument("--users", type=int, default=20, help="people per calls-table batch (default 20)")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    print("Ingest cold start, ms (new process, Lambda-like variables, instant stand-ins)\n")
    print(markdown(("step", "min", "median"), cold_start_table(args.runs)))
    print("\nHandler CPU per event, ms (100-event batch, instant Intercom and AWS, durability included)\n")
    columns = ("batch", "min", "median", "naive baseline median", "ratio", "AWS calls per request")
    print(markdown(columns, cpu_table(args.runs)))
    running = local_stack.start()
    try:
        bench = Bench(running)
        print(f"\nIntercom calls per event ({args.users} people per batch; repeat = traits and companies unchanged)\n")
        headers = ("call", "first seen", "naive", "repeat, warm", "repeat, new function", "naive repeat", "ratio")
        print(markdown(headers, calls_table(bench, args.users)))
        print("\n500 tracks of 500 distinct users, Intercom answering in 50 ms (modelled AWS), seconds\n")
        columns = ("sender", "busiest 10 s (calls)", "min", "median", "× faster than naive", "within Intercom's limit")
        print(markdown(columns, speed_table(bench, 500, 50, max(args.runs // 2, 2))))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
