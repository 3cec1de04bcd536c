"""A backfill beside live traffic (part of `make bench`, #25): an archive of 100,000 events (identify,
group and tracks of 10,000 people, in time order, gzipped JSON lines in 4 files) read by `make backfill`'s
own program in a process of its own, as a user runs it against `make dev` (here: the local stack with its
ingest function in another process, Intercom's sandbox answering each call after 50 ms, with a rate limit
that binds: 1,000 calls per 10-second window, below what this machine's local stack can carry).

Measured, each beside its baseline in the same run:
- the backfill's Intercom calls per second against what its share allows (share × limit), and events/s;
- a live-traffic probe (a track a second through the HTTP endpoint): answer times with no backfill, then
  beside it (min, median, p90), and how many live events the rate limit pushed to the dead-letter queue;
- the backfill process's peak memory (max RSS) reading a 10,000-event archive and the 100,000-event one;
- a resume: the 10,000-event archive stopped part way (SIGINT, as Ctrl-C), started again, and every track
  sent to Intercom exactly once.
Not measured: real Intercom (its headers follow its docs in the sandbox), real AWS (moto is slower).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from benchmarks.run import markdown
from local import stack as local_stack
from local.sandbox import SandboxControl
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[1]
BASE = datetime(2026, 1, 5, tzinfo=UTC)
TRACKS_PER_PERSON = 8


def archive(folder: Path, people: int, tag: str, files: int = 4) -> tuple[int, int]:
    """Each person's identify, group and tracks, spread over a day and written in time order (as Segment
    archives them); returns (events, tracks)."""
    rng = random.Random(tag)
    timed: list[tuple[float, dict[str, Any]]] = []
    for n in range(people):
        user, start = f"{tag}-u{n}", rng.uniform(0, 80_000)
        timed.append(
            (
                start,
                {
                    "type": "identify",
                    "userId": user,
                    "messageId": f"{tag}-i{n}",
                    "traits": {"email": f"{tag}{n}@example.com", "plan": rng.choice(["free", "pro"])},
                },
            )
        )
        timed.append(
            (
                start + 1,
                {
                    "type": "group",
                    "userId": user,
                    "groupId": f"{tag}-co{n % 500}",
                    "messageId": f"{tag}-g{n}",
                    "traits": {"name": f"Company {n % 500}"},
                },
            )
        )
        for k in range(TRACKS_PER_PERSON):
            timed.append((start + 2 + rng.uniform(0, 3_000), {"type": "track", "userId": user, "event": f"Event {k % 4}",
                                                               "messageId": f"{tag}-t{n}-{k}"}))  # fmt: skip
    timed.sort(key=lambda pair: pair[0])
    per_file = -(-len(timed) // files)
    for index in range(files):
        lines = [
            json.dumps(event | {"timestamp": (BASE + timedelta(seconds=at)).isoformat()}).encode() + b"\n"
            for at, event in timed[index * per_file : (index + 1) * per_file]
        ]
        (folder / f"{tag}-{index:02d}.json.gz").write_bytes(gzip.compress(b"".join(lines)))
    return len(timed), people * TRACKS_PER_PERSON


class Child:
    """`make backfill`'s program in a process of its own; `stop_after` seconds, then SIGINT (Ctrl-C)."""

    def __init__(self, folder: Path, env: dict[str, str], stop_after: float | None = None) -> None:
        started = time.monotonic()
        command = [sys.executable, "-m", "benchmarks.backfill", "--child", str(folder)]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if stop_after is not None:
            threading.Timer(stop_after, process.send_signal, (signal.SIGINT,)).start()
        out, err = process.communicate()
        self.seconds = time.monotonic() - started
        self.returncode = process.returncode
        self.summary = json.loads(out) if process.returncode == 0 else {}
        self.max_rss_mb = int(err.rsplit("MAXRSS ", 1)[1].split()[0]) / 1024 if "MAXRSS " in err else 0.0
        if process.returncode not in (0, 3):
            raise SystemExit(f"backfill failed ({process.returncode}): {err[-2000:]}")


def run_child(folder: str) -> None:
    """The child: local.backfill's main, then its peak memory on stderr."""
    from local import backfill

    try:
        backfill.main([folder, "--json"])
    finally:
        print(f"\nMAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr, flush=True)


def probe(api: Api, stop: threading.Event, answers: list[tuple[float, int]], user: str) -> None:
    """A live track a second, each answer's time and status."""
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        event = {"type": "track", "userId": user, "event": "Live", "messageId": f"{user}-{n}-{time.time()}"}
        reply = api.batch(event)
        answers.append((time.monotonic() - started, reply.status))
        n += 1
        stop.wait(max(1.0 - (time.monotonic() - started), 0))


def live_row(name: str, answers: list[tuple[float, int]]) -> tuple[str, ...]:
    times = sorted(seconds * 1000 for seconds, _ in answers)
    p90 = times[int(0.9 * (len(times) - 1))]
    return (name, str(len(times)), f"{times[0]:.0f}", f"{statistics.median(times):.0f}", f"{p90:.0f}",
            str(sum(status != 200 for _, status in answers)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000, help="people of the big archive (10 events each)")
    parser.add_argument("--small", type=int, default=1_000, help="people of the small archive (memory, resume)")
    parser.add_argument("--limit", type=int, default=1_000, help="Intercom calls per 10-second window")
    parser.add_argument("--share", type=float, default=0.8, help="of the window the backfill may use")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    running = local_stack.start(instances=1)
    sandbox = SandboxControl(running.intercom_api_base)
    env = {
        "AWS_PORT": running.resources.endpoint.rsplit(":", 1)[1],
        "SANDBOX_PORT": running.intercom_api_base.rsplit(":", 1)[1],
        "BACKFILL_SHARE": str(args.share),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    try:
        with TemporaryDirectory() as small_dir, TemporaryDirectory() as big_dir:
            small_events, small_tracks = archive(Path(small_dir), args.small, "s")
            big_events, big_tracks = archive(Path(big_dir), args.people, "b")
            sandbox.configure(latency_ms=50)
            table, small_rss = resume_table(Path(small_dir), env, sandbox, small_events, small_tracks)
            print(table, "\n", flush=True)
            sandbox.reset()
            sandbox.configure(latency_ms=50, rate_limit=args.limit, window_seconds=10)
            api = Api(running.url)
            api.batch({"type": "identify", "userId": "live-probe", "traits": {"email": "probe@example.com"}})
            baseline: list[tuple[float, int]] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe, args=(api, stop, baseline, "live-probe"))
            prober.start()
            time.sleep(30)
            stop.set()
            prober.join()
            beside: list[tuple[float, int]] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe, args=(api, stop, beside, "live-probe"))
            prober.start()
            big = Child(Path(big_dir), env)
            stop.set()
            prober.join()
            print(pace_table(args, big, big_events, sandbox, beside), "\n")
            print("Live traffic beside it: a track a second through the HTTP endpoint (ms)\n")
            print(markdown(("", "answers", "min", "median", "p90", "not 200"),
                           [live_row("no backfill (30 s)", baseline), live_row("beside the backfill", beside)]))  # fmt: skip
            queued = running.depth()
            print(f"\nlive or backfill events queued by the rate limit (dead-letter queue): {queued}\n")
            print("Peak memory of the backfill process (max RSS)\n")
            print(markdown(("archive", "events", "MB"), [
                ("small", f"{small_events:,}", f"{small_rss:.0f}"),
                ("big", f"{big_events:,}", f"{big.max_rss_mb:.0f}"),
                ("ratio big / small", f"{big_events / small_events:.0f}×", f"{big.max_rss_mb / small_rss:.2f}×"),
            ]))  # fmt: skip
            print(f"\nbig archive: {tracks_sent(sandbox):,} tracks sent to Intercom of {big_tracks:,} archived")
    finally:
        running.stop()


def tracks_sent(sandbox: SandboxControl) -> int:
    """Tracks the backfill sent Intercom (not the live probe's): one per archived track when each went once."""
    return sum(
        1
        for r in sandbox.requests()
        if r["path"] == "/events" and r["status"] == 202 and (r["body"] or {}).get("event_name") != "Live"
    )


def resume_table(
    folder: Path, env: dict[str, str], sandbox: SandboxControl, events: int, tracks: int
) -> tuple[str, float]:
    """The small archive stopped part way and started again; its table, and the process's peak memory."""
    first = Child(folder, env, stop_after=6.0)
    halfway = tracks_sent(sandbox)
    second = Child(folder, env)
    sent = tracks_sent(sandbox)
    rows = [
        ("stopped (SIGINT after 6 s)", f"exit {first.returncode}", f"{halfway:,}", f"{first.seconds:.1f}"),
        ("started again", f"exit {second.returncode}", f"{sent:,}", f"{second.seconds:.1f}"),
        ("tracks in the archive", "", f"{tracks:,}", ""),
    ]
    verdict = "every track sent exactly once" if sent == tracks and 0 < halfway < tracks else "NOT exactly once"
    table = f"Resume: {events:,} events stopped part way and started again ({verdict})\n\n" + markdown(
        ("run", "ended", "tracks sent to Intercom so far", "seconds"), rows
    )
    return table, max(first.max_rss_mb, second.max_rss_mb)


def pace_table(args: argparse.Namespace, big: Child, events: int, sandbox: SandboxControl, beside: list[Any]) -> str:
    requests = sandbox.requests()
    live = sum(1 for r in requests if (r["body"] or {}).get("event_name") == "Live")
    throttled = sum(1 for r in requests if r["status"] == 429)
    backfill_calls = len(requests) - live - throttled
    allowed = args.share * args.limit / 10
    rate = backfill_calls / big.seconds
    counts = big.summary.get("counts", {})
    outcomes = ", ".join(f"{name} {n:,}" for name, n in counts.items())
    rows = [
        ("events", f"{events:,} in {big.seconds:.0f} s", f"{events / big.seconds:.0f} events/s"),
        ("Intercom calls of the backfill", f"{backfill_calls:,}", f"{rate:.0f} calls/s"),
        ("allowed: share × limit", f"{args.share} × {args.limit} per 10 s", f"{allowed:.0f} calls/s"),
        ("used of the allowed share", "", f"{rate / allowed:.0%} (target ≥ 80 %)"),
        ("429 answers (any caller)", str(throttled), ""),
    ]
    return (
        f"Backfill of {events:,} events beside live traffic (Intercom at 50 ms, {args.limit:,} calls per 10 s)\n\n"
        + markdown(("", "figure", "rate"), rows)
        + f"\n\noutcomes: {outcomes}; live probes {len(beside)}"
    )


if __name__ == "__main__":
    main()
