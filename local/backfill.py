"""`make backfill FILE=<a file or a folder> [DRY_RUN=1] [SHARE=0.5] [RUN=name]`: an archive into the
running `make dev` stack's Intercom, with its settings and actions file (found as `make replay` finds it:
AWS_PORT, SANDBOX_PORT, INTERCOM_API_BASE), paced to a share of the rate limit, with a progress bar.
Ctrl-C stops it at a checkpoint; the same command goes on from there. `--status RUN` prints a run's totals.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local import stack

_BAR = 30


class Bar:
    """One line on stderr, redrawn after each chunk: done, events/s, time left (from bytes read)."""

    def __init__(self, out: Any = sys.stderr) -> None:
        self._out = out
        self._started = time.monotonic()

    def __call__(self, tick: Any) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        done = tick.bytes_done / tick.bytes_total if tick.bytes_total else 1.0
        left = elapsed * (1 - done) / done if done > 0 else float("inf")
        filled = int(done * _BAR)
        eta = "?" if left == float("inf") else _duration(left)
        paused = f"  paused {tick.paused_seconds:.0f}s for the rate limit" if tick.paused_seconds else ""
        line = (
            f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {done:4.0%}  {tick.events:,} events  "
            f"{tick.events / elapsed:,.0f} events/s  {eta} left{paused}   "
        )
        self._out.write(line)
        self._out.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", help="an archive file, or a folder searched recursively")
    parser.add_argument("--dry-run", action="store_true", help="count, check and sample; nothing sent")
    parser.add_argument("--share", type=float, help="of Intercom's rate limit (default: 1 - REDRIVE_LIVE_SHARE)")
    parser.add_argument("--run", help="the run's name (default: from the files' names and sizes)")
    parser.add_argument("--status", metavar="RUN", help="print a run's totals and end")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.share is not None and not 0 < args.share <= 1:
        sys.exit(f"make backfill: SHARE={args.share} is not a share of the rate limit: give one in (0, 1], e.g. 0.5")
    parts = [] if args.status else _parts(args.file)  # a slip in FILE is named before a stack is looked for
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # each event's fate is in the summary, not a log line
    os.environ["INTERCOM_WAIT_FOR_WINDOW"] = "true"  # as the backfill function: a spent window is waited out
    stack.attach_to_dev()
    from intercom_destination import wiring

    if args.status:
        print(json.dumps(wiring.checkpoints(args.status).status(), indent=2))
        return
    if args.dry_run:
        _dry_run(parts, args)
        return
    _run(parts, args)


def _parts(given: str | None) -> list[Any]:
    from intercom_destination.backfill.sources import local_parts

    if not given:
        sys.exit(
            "make backfill: FILE is not set: give an archive file or folder, e.g. make backfill FILE=events.ndjson.gz"
        )
    path = Path(given)
    if not path.exists():
        sys.exit(f"make backfill: FILE={given} does not exist")
    parts = local_parts(path)
    if not parts:
        sys.exit(f"make backfill: FILE={given} is a folder with no files in it")
    return parts


def _dry_run(parts: list[Any], args: argparse.Namespace) -> None:
    from intercom_destination import wiring
    from intercom_destination.backfill.dry_run import DryRun
    from intercom_destination.config.settings import get_settings

    settings = get_settings()
    share = wiring.backfill_share(settings, args.share)
    dry = DryRun(wiring.backfill_ingest().actions(), wiring.backfill_caller(settings), settings, share)
    summary = dry.read(parts)
    print(json.dumps(summary, indent=2) if args.json else describe_dry_run(summary))


def describe_dry_run(summary: dict[str, Any]) -> str:
    """The dry run as a person reads it (the JSON has everything)."""
    out = [
        f"dry run: {summary['lines']:,} lines, {summary['events']:,} events; nothing was sent",
        "by type:   " + _counts(summary["by_type"]),
        "by action: " + _counts(summary["by_action"]),
    ]
    if summary["skipped"]:
        out.append("skipped:   " + _counts(summary["skipped"]))
    reasons = f" ({_counts(summary['invalid_by_reason'])})" if summary["invalid_count"] else ""
    out.append(f"invalid:   {summary['invalid_count']:,}{reasons}")
    out += [f"  {item['file']}:{item['line']}: {item['error']}" for item in summary["invalid"][:20]]
    out.append(
        f"estimate:  {summary['requests']:,} Intercom requests planned; at {summary['share']:.0%} of "
        f"{summary['rate_limit_per_minute']:,}/min: {_duration(summary['estimated_seconds'] or 0)}"
    )
    for action, samples in summary["samples"].items():
        out.append(f"sample of {action} (line {samples[0]['line']}):")
        out += [
            f"  {request['method']} {request['path']} {json.dumps(request.get('body'))[:160]}"
            for request in samples[0]["requests"]
        ]
    return "\n".join(out)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {number:,}" for name, number in counts.items()) or "none"


def _run(parts: list[Any], args: argparse.Namespace) -> None:
    from intercom_destination import wiring
    from intercom_destination.backfill.runner import Stopped
    from intercom_destination.backfill.sources import run_name

    run = args.run or run_name(parts, salt=str(Path(args.file).resolve()))
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print(f"backfill {run}: {len(parts)} file(s) into {os.environ['INTERCOM_API_BASE']}", file=sys.stderr)
    try:
        wiring.backfill_service(run, args.share).run(parts, stopping.is_set, Bar())
    except Stopped as stopped:
        print(f"\n{stopped}; the same command goes on from there", file=sys.stderr)
        sys.exit(3)
    status = wiring.checkpoints(run).status()
    print("", file=sys.stderr)
    print(json.dumps(status, indent=2) if args.json else describe_status(status))


def describe_status(status: dict[str, Any]) -> str:
    out = [
        f"backfill {status['run']}: {status['parts_done']} of {status['parts']} file(s) done, {status['lines']:,} lines",
        "events:  " + _counts(status["counts"]),
    ]
    out += [f"  {item['part']}:{item['line']}: {item['error']}" for item in status["invalid"][:20]]
    return "\n".join(out)


if __name__ == "__main__":
    main()
