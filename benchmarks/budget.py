"""Answer times when Intercom is slow, hanging, refusing or down, and for big batches (part of `make bench`).

The SDKs give up after 10 s and resend the whole batch, so every answer must come well inside that.
Each scenario runs `--runs` times through the full local path (HTTP → adapter → real handler → Intercom
sandbox), the first in a new function and the others warm (as a busy function's instances are, and with
the finishing reserve they learned), and prints min and median beside its target, with where the
median request's time went (delivering, then finishing: queueing, releases, completion, person
records), twice:
- against moto (the local SQS/DynamoDB used by `make dev` and the tests), which is far slower than AWS
  on FIFO queues holding thousands of messages;
- against a modelled AWS endpoint: an in-process stand-in for the SQS and DynamoDB clients that answers
  each call after a fixed AWS-like latency (SendMessageBatch 20 ms, TransactWriteItems 15 ms,
  BatchExecuteStatement and BatchWriteItem 10 ms, BatchGetItem 8 ms, UpdateItem and PutItem 6 ms; typical in-region figures, not measured
  here). It measures the budget logic
  (parallel lanes, batched claims) without moto's cost; it is a model, not AWS.
Baseline in the same run: the time budget itself (DELIVERY_BUDGET_SECONDS). The big requests run a third
time against the modelled AWS with a CPU burner on the other core.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from benchmarks.run import markdown
from local import stack as local_stack
from local.sandbox import SandboxControl
from tests.conftest import Api


class ModelledAws:
    """SQS and DynamoDB calls the ingest function makes, each answered after an AWS-like latency."""

    LATENCY = {
        "send_message_batch": 0.020,
        "transact_write_items": 0.015,
        "batch_execute_statement": 0.010,
        "batch_write_item": 0.010,
        "batch_get_item": 0.008,
        "update_item": 0.006,
        "put_item": 0.006,
    }

    def __init__(self, service: str) -> None:
        self.service = service
        self.calls = 0
        self._lock = threading.Lock()

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls += 1
        time.sleep(self.LATENCY[name])

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("send_message_batch")
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("transact_write_items")
        return {}

    def batch_execute_statement(self, Statements: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("batch_execute_statement")
        return {"Responses": [{"TableName": "modelled"} for _ in Statements]}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._call("batch_write_item")
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._call("batch_get_item")
        return {"Responses": {}, "UnprocessedKeys": {}}  # nobody has a record yet

    def update_item(self, **_: Any) -> dict[str, Any]:
        self._call("update_item")
        return {}

    def put_item(self, **_: Any) -> dict[str, Any]:
        self._call("put_item")
        return {}


@contextmanager
def modelled_aws() -> Iterator[None]:
    """Swap the function's boto3 clients for ModelledAws while the block runs (bench only)."""
    from intercom_destination import wiring

    real = wiring.boto3.client
    wiring.boto3.client = lambda service, **_: ModelledAws(service)  # type: ignore[assignment]
    try:
        yield
    finally:
        wiring.boto3.client = real


@dataclass(frozen=True)
class Scenario:
    name: str
    target_seconds: float
    events: Callable[[int], list[dict[str, Any]]]
    knobs: dict[str, Any]
    intercom_down: bool = False


def tracks(count: int) -> Callable[[int], list[dict[str, Any]]]:
    """`count` events of distinct users (each its own person, so all run concurrently)."""

    def build(run: int) -> list[dict[str, Any]]:
        return [
            {"type": "track", "userId": f"u{n}", "event": "Clicked", "messageId": f"r{run}-{n}"} for n in range(count)
        ]

    return build


def new_users(count: int) -> Callable[[int], list[dict[str, Any]]]:
    """`count` identifies of people Intercom has never seen, each with an email (a contact to create, and
    a person record and its email's link to write afterwards)."""

    def build(run: int) -> list[dict[str, Any]]:
        return [
            {"type": "identify", "userId": f"n{run}-{n}", "messageId": f"i{run}-{n}",
             "traits": {"email": f"n{run}-{n}@example.com", "name": f"New {n}"}}
            for n in range(count)
        ]  # fmt: skip

    return build


SCENARIOS = [
    Scenario("1 event, Intercom 2.5 s per call", 6, tracks(1), {"latency_ms": 2500}),
    Scenario("1 event, Intercom hanging", 6, tracks(1), {"faults": [{"status": 0, "delay_seconds": 30}]}),
    Scenario("1 event, Intercom 404 to everything", 6, tracks(1), {"faults": [{"status": 404}]}),
    Scenario("500 events, 500 users, Intercom 50 ms", 8, tracks(500), {"latency_ms": 50}),
    Scenario("500 new users, Intercom 50 ms", 8, new_users(500), {"latency_ms": 50}),
    Scenario("2,500 events, 2,500 users, Intercom 50 ms", 8, tracks(2500), {"latency_ms": 50}),
    Scenario("2,500 events, Intercom down (all queued)", 8, tracks(2500), {}, intercom_down=True),
]
#: The big requests, run again with a CPU burner on the other core (a busy machine, a noisy neighbour).
BUSY = ("500 new users, Intercom 50 ms", "2,500 events, 2,500 users, Intercom 50 ms")


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@dataclass
class Measured:
    answers: list[float] = field(default_factory=list)  # seconds, from outside
    statuses: Counter[int] = field(default_factory=Counter)
    split: list[dict[str, int]] = field(default_factory=list)  # the `request handled` line's delivering/finishing ms


def measure(running: local_stack.Stack, scenario: Scenario, runs: int, modelled: bool) -> Measured:
    """Answer times, and the answers: 200 (all accepted), or 503 when the events could not be made durable
    within the budget (the SDK resends; moto's FIFO emulation is far slower than SQS)."""
    api, sandbox = Api(running.url), SandboxControl(running.intercom_api_base)
    measured = Measured()
    overrides = {"INTERCOM_API_BASE": closed_port()} if scenario.intercom_down else {}
    with modelled_aws() if modelled else nullcontext():
        local_stack.configure(**running.function_env(**overrides))  # cold for the first run, then warm
    for run in range(runs):
        sandbox.reset()
        running.clear()
        sandbox.configure(validate_requests=False, **scenario.knobs)
        with modelled_aws() if modelled else nullcontext(), handled_lines() as lines:
            started = time.perf_counter()
            reply = api.batch(*scenario.events(run))
            measured.answers.append(time.perf_counter() - started)
            deadline = time.monotonic() + 60  # a 503's request finishes its work after the answer
            while not lines and time.monotonic() < deadline:
                time.sleep(0.05)
        assert reply.status in (200, 503), (
            reply.status,
            str(reply.body)[:300],
        )  # never a 5xx for what was sent but 503
        measured.statuses[reply.status] += 1
        measured.split.extend(lines)
    sandbox.configure(faults=[], latency_ms=0)
    return measured


@contextmanager
def handled_lines() -> Iterator[list[dict[str, int]]]:
    """The ingest function's `request handled` log lines (where a request's time went), read in-process
    rather than printed."""
    name = next(name for name in logging.root.manager.loggerDict if name.endswith("ingest.service"))
    log = logging.getLogger(name)
    lines: list[dict[str, int]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "request handled":
                lines.append({key: getattr(record, key) for key in ("delivering_ms", "finishing_ms")})

    handler, saved = Capture(), (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield lines
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


@contextmanager
def busy_core() -> Iterator[None]:
    """A CPU burner on the other core while the block runs."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def hostile_bodies() -> dict[str, bytes]:
    """~500 KB request bodies: ordinary events (the baseline) and the hostile shapes of the trust issue."""
    event = '{"type": "track", "userId": "u1", "event": "Clicked", "properties": {"plan": "pro", "n": 12}}'
    deep = '{"type": "identify", "userId": "u1", "traits": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    digits = '{"type": "identify", "userId": "u1", "traits": {"n": ' + "7" * 5000 + "}}"
    floats = '{"type": "identify", "userId": "u1", "traits": {' + ", ".join(f'"k{i}": 1e400' for i in range(300)) + "}}"

    def batch(one: str) -> bytes:
        return ('{"batch": [' + ",".join([one] * (500_000 // len(one))) + "]}").encode()

    return {"ordinary events": batch(event), "nesting 5,000 deep": batch(deep), "5,000-digit integers": batch(digits),
            "1e400 floats": batch(floats)}  # fmt: skip


def parse_cost(runs: int) -> list[tuple[str, str, str, str, str]]:
    """CPU per KB to decode, bound and check a body (bounded_json.loads + problems per event), in-process."""
    from intercom_destination.intake import bounded_json

    rows: list[tuple[str, str, str, str, str]] = []
    baseline = 0.0
    for name, body in hostile_bodies().items():
        samples = []
        for _ in range(max(runs, 3)):
            started = time.process_time()
            parsed = bounded_json.loads(body)
            for event in parsed["batch"]:
                bounded_json.problems(event)
            samples.append((time.process_time() - started) * 1000 / (len(body) / 1024))
        median = statistics.median(samples)
        baseline = baseline or median
        rows.append((name, f"{len(body) // 1024}", f"{min(samples):.3f}", f"{median:.3f}", f"{median / baseline:.1f}×"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario and endpoint (default 3)")
    parser.add_argument("--only", default="", help="run the scenarios whose name contains this")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    running = local_stack.start()
    budget = running.function_env().get("DELIVERY_BUDGET_SECONDS") or "5 (default)"
    try:
        rows = []
        for scenario in [scenario for scenario in SCENARIOS if args.only in scenario.name]:
            for modelled, busy in ((False, False), (True, False), *(((True, True),) if scenario.name in BUSY else ())):
                with busy_core() if busy else nullcontext():
                    measured = measure(running, scenario, args.runs, modelled)
                timings = measured.answers

                def split(key: str, measured: Measured = measured) -> str:
                    return f"{statistics.median(line[key] for line in measured.split) / 1000:.2f}"

                rows.append((
                    scenario.name,
                    ("modelled AWS" if modelled else "moto") + (", busy core" if busy else ""),
                    f"< {scenario.target_seconds:.0f}",
                    f"{min(timings):.2f}",
                    f"{statistics.median(timings):.2f}",
                    "yes" if max(timings) < scenario.target_seconds else "NO",
                    ", ".join(f"{status} ×{count}" for status, count in sorted(measured.statuses.items())),
                    f"{split('delivering_ms')} + {split('finishing_ms')}" if measured.split else "",
                ))  # fmt: skip
        print(f"Answer time in seconds, {args.runs} runs each (request time budget: {budget} s)\n")
        columns = (
            "scenario", "SQS/DynamoDB", "target", "min", "median", "all runs in target", "answers",
            "delivering + finishing (median s)",
        )  # fmt: skip
        print(markdown(columns, rows))
        print("\nCPU to parse and bound a request body (ms per KB; ratio to ordinary events, same run)\n")
        print(markdown(("body", "KB", "min", "median", "vs ordinary"), parse_cost(args.runs)))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
