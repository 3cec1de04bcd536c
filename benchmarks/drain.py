"""How fast the redrive empties a backlog after an outage (part of `make bench`).

A backlog of tracks (10 per person, their contacts known) is queued while Intercom fails, then the real
redrive function replays it against the sandbox answering each call after 100 ms with a rate limit that
binds (Intercom allows 10,000 a minute; here the limit is scaled down so that it binds within seconds).
Reported against the rate limit itself, the baseline measured in the same run: the drain rate is the
share of Intercom's budget the redrive turns into deliveries. Checked on the way: every event arrives
exactly once and each person's in order.

The dead-letter queue is a modelled FIFO queue (`ModelledFifo`, in-process: FIFO groups, visibility,
receive counts, deduplication, each call after an SQS-like latency), because moto's FIFO emulation
slows down with thousands of messages; DynamoDB (person records) is moto. Not measured: real SQS.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.run import Bench, markdown
from local import stack as local_stack

_LATENCY = {"send": 0.020, "receive": 0.010, "delete": 0.005, "visibility": 0.005, "attributes": 0.005}


@dataclass
class _Message:
    body: str
    group: str
    hidden_until: float = 0.0
    receives: int = 0
    receipt: str = field(default_factory=lambda: uuid.uuid4().hex)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # SQS's MessageId, fixed for the message's life


class ModelledFifo:
    """The SQS calls the destination makes on a FIFO queue, with its ordering and visibility rules."""

    def __init__(self, visibility_seconds: float = 120) -> None:
        self._lock = threading.Lock()
        self._messages: list[_Message] = []
        self._deduplicated: set[str] = set()
        self._visibility = visibility_seconds
        self.calls: Counter[str] = Counter()
        self.live_queued = 0  # live traffic's events that had to be queued

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        time.sleep(_LATENCY[name])

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("send")
        with self._lock:
            for entry in Entries:
                self.live_queued += '"event": "Live"' in entry["MessageBody"]
                if entry["MessageDeduplicationId"] not in self._deduplicated:
                    self._deduplicated.add(entry["MessageDeduplicationId"])
                    self._messages.append(_Message(entry["MessageBody"], entry["MessageGroupId"]))
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:
        """Visible messages in order, none of a group that has one in flight (FIFO's rule)."""
        self._call("receive")
        now, blocked = time.monotonic(), set()
        out: list[_Message] = []
        with self._lock:
            for message in self._messages:
                if len(out) >= MaxNumberOfMessages:
                    break
                if message.group in blocked:
                    continue
                if message.hidden_until > now:
                    blocked.add(message.group)
                    continue
                message.receives += 1
                message.receipt = uuid.uuid4().hex
                message.hidden_until = now + self._visibility
                out.append(message)
            return {
                "Messages": [
                    {
                        "MessageId": m.id,
                        "Body": m.body,
                        "ReceiptHandle": m.receipt,
                        "Attributes": {"ApproximateReceiveCount": str(m.receives), "MessageGroupId": m.group},
                    }
                    for m in out
                ]
            }

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        self._call("delete")
        with self._lock:
            self._messages = [m for m in self._messages if m.receipt != ReceiptHandle]
        return {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("delete")
        with self._lock:
            done = {entry["ReceiptHandle"] for entry in Entries}
            self._messages = [m for m in self._messages if m.receipt not in done]
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> dict[str, Any]:
        self._call("visibility")
        with self._lock:
            for message in self._messages:
                if message.receipt == ReceiptHandle:
                    message.hidden_until = time.monotonic() + VisibilityTimeout
        return {}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("visibility")
        with self._lock:
            hidden = {entry["ReceiptHandle"]: entry["VisibilityTimeout"] for entry in Entries}
            for message in self._messages:
                if message.receipt in hidden:
                    message.hidden_until = time.monotonic() + hidden[message.receipt]
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        self._call("attributes")
        now = time.monotonic()
        with self._lock:
            visible = sum(1 for m in self._messages if m.hidden_until <= now)
            return {
                "Attributes": {
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": str(len(self._messages) - visible),
                }
            }

    def __len__(self) -> int:
        return len(self._messages)


@contextmanager
def modelled_sqs(queue: ModelledFifo) -> Iterator[None]:
    """The functions' SQS client is the model (both queues share it: nothing is parked in a healthy drain)."""
    from intercom_destination import wiring

    real = wiring.boto3.client
    wiring.boto3.client = lambda service, **kwargs: queue if service == "sqs" else real(service, **kwargs)  # type: ignore[assignment]
    try:
        yield
    finally:
        wiring.boto3.client = real


LIVE_USERS = [f"live{n}" for n in range(10)]


@dataclass
class Live:
    """Live traffic beside the drain: a batch of 10 tracks every second; answer times, and how many of
    its events reached Intercom before the answer (the others were queued: no budget left for them)."""

    answers: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, bench: Bench) -> None:
        for n in itertools.count():
            if self.stop.wait(1.0):
                return
            batch = [{"type": "track", "userId": u, "event": "Live", "messageId": f"live-{n}-{u}"} for u in LIVE_USERS]
            started = time.perf_counter()
            assert bench.api.batch(*batch).status == 200
            self.answers.append(time.perf_counter() - started)

    def row(self, name: str, queued: int) -> tuple[str, ...]:
        ordered = sorted(self.answers)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        sent = len(ordered) * len(LIVE_USERS)
        return (
            name,
            str(len(ordered)),
            f"{statistics.median(ordered) * 1000:.0f}",
            f"{p95 * 1000:.0f}",
            f"{1 - queued / sent:.0%}",
        )


def drain(
    bench: Bench, people: int, per_person: int, limit: int, window: int, live_share: str, live: Live
) -> tuple[tuple[str, ...], ModelledFifo]:
    queue = ModelledFifo()
    names = [f"d{n}" for n in range(people)]
    ids = itertools.count()
    bench.fresh(validate_requests=False)
    with modelled_sqs(queue):
        bench.cold()
        bench.send([{"type": "identify", "userId": p, "messageId": f"i-{p}"} for p in [*names, *LIVE_USERS]])
        bench.sandbox.configure(faults=[{"status": 500, "path": "/events"}])
        tracks = [
            {"type": "track", "userId": p, "event": f"E{i}", "messageId": f"t-{next(ids)}"}
            for i in range(per_person)
            for p in names
        ]
        bench.send(tracks, per_request=100)
        queued = len(queue)
        bench.sandbox.configure(faults=[], latency_ms=100, rate_limit=limit, window_seconds=window)
        before = len(bench.sandbox.requests())
        local_stack.configure(**bench.stack.function_env(REDRIVE_BUDGET_SECONDS="600", REDRIVE_LIVE_SHARE=live_share))
        sender = threading.Thread(target=live.run, args=(bench,))
        sender.start()
        started = time.perf_counter()
        summary = local_stack.invoke(local_stack.load_redrive(), timeout_seconds=700)
        seconds = time.perf_counter() - started
        live.stop.set()
        sender.join()
    requests = bench.sandbox.requests()[before:]
    drained = [e for e in bench.sandbox.state()["events"] if e.get("user_id") in set(names)]
    throttled = sum(1 for r in requests if r["status"] == 429)
    per_second = len(drained) / seconds
    order_kept = all(
        [e["event_name"] for e in bench.sandbox.state()["events"] if e.get("user_id") == p]
        == [f"E{i}" for i in range(per_person)]
        for p in names
    )
    return (
        f"{queued} ({people} people × {per_person})",
        f"{limit / window:.0f}/s",
        live_share,
        f"{seconds:.1f}",
        f"{per_second:.1f}/s",
        f"{per_second / (limit / window):.0%}",
        str(throttled),
        str(summary["backlog"]),
        "yes" if order_kept and len(drained) == queued else "NO",
    ), queue


def live_alone(bench: Bench, seconds: float, limit: int, window: int) -> tuple[Live, ModelledFifo]:
    """The baseline: the same live traffic with nothing to drain."""
    live, queue = Live(), ModelledFifo()
    bench.fresh(validate_requests=False)
    with modelled_sqs(queue):
        bench.cold()
        assert (
            bench.api.batch(*({"type": "identify", "userId": u, "messageId": f"i-{u}"} for u in LIVE_USERS)).status
            == 200
        )
        bench.sandbox.configure(latency_ms=100, rate_limit=limit, window_seconds=window)
        sender = threading.Thread(target=live.run, args=(bench,))
        sender.start()
        time.sleep(seconds)
        live.stop.set()
        sender.join()
    return live, queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--per-person", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    running = local_stack.start()
    try:
        bench = Bench(running)
        runs = {("0.2", False): Live(), ("0.2", True): Live(), ("0", True): Live()}
        queues: dict[tuple[str, bool], ModelledFifo] = {}
        rows = []
        for (share, with_live), live in runs.items():
            if not with_live:
                live.stop.set()  # no live traffic: the drain alone
            row, queues[(share, with_live)] = drain(bench, args.people, args.per_person, 300, 10, share, live)
            rows.append((row[0], "yes" if with_live else "no", *row[1:]))
        print("Draining a backlog: Intercom 100 ms per call, its rate limit binding (modelled SQS, moto DynamoDB)\n")
        headers = (
            "backlog",
            "live traffic (10/s)",
            "rate limit",
            "share left to live traffic",
            "seconds",
            "delivered",
            "of the limit",
            "429s",
            "left",
            "each once, in order",
        )
        print(markdown(headers, rows))
        alone, quiet = live_alone(bench, 30, 300, 10)
        print(
            "\nLive traffic meanwhile (10 tracks a second; answer times, and events that reached Intercom before the answer)\n"
        )
        live_rows = [
            alone.row("no backlog (baseline)", quiet.live_queued),
            *(runs[key].row(f"during the drain, share {key[0]}", queues[key].live_queued) for key in runs if key[1]),
        ]
        print(markdown(("live traffic", "batches", "p50 ms", "p95 ms", "delivered at once"), live_rows))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
