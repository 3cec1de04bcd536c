"""What each event costs, on this tree and on a baseline commit, side by side in one run (part of
`make bench`): Intercom calls, DynamoDB requests, read and write units per event, and the handler's CPU.

Each tree is measured by this same script in a process of its own, with that tree's layer, functions
and local stack on the path (`git worktree` makes the baseline's), so the two columns differ only by
the code under test, measured on the same machine at the same time.

- Intercom calls and DynamoDB costs: the real ingest handler behind the local stack (sandbox Intercom,
  moto's DynamoDB), 20 people per request; DynamoDB calls are counted as botocore makes them. Units are
  counted as DynamoDB bills items of up to 1 KB written and 4 KB read (strongly consistent: 1 unit an
  item; a transaction's items count twice); a bigger person record costs more, not shown here.
- CPU: the real handler against instant Intercom and AWS stand-ins (benchmarks/instant.py), 100-event
  batches of tracks and of repeat traffic, process CPU per event; min and median of several runs.

Not measured: real AWS and Intercom latencies, and item sizes over 1 KB.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before issue #23's work (one write unit per event, a fifth of a millisecond of CPU).
BASELINE = "69e7b31"
PEOPLE = 20
_ids = itertools.count()


def _identify(user: str) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com", "plan": "pro"}}


def _browser_identify(user: str) -> dict[str, Any]:
    """What analytics.js sends after a login: the userId, the visitor's anonymousId, the email."""
    return {**_identify(user), "anonymousId": f"anon-{user}"}


def _group(user: str) -> dict[str, Any]:
    return {"type": "group", "userId": user, "groupId": f"co-{user}", "traits": {"name": f"Company {user}"}}


def _track(user: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": "Viewed"}


MIXES = {
    "identify, userId": _identify,
    "identify, browser (userId + anonymousId)": _browser_identify,
    "group": _group,
    "track": _track,
}


# --- one tree, in this process ------------------------------------------------------------------------
class _DynamoDBCounter:
    """DynamoDB requests and billed units as botocore builds them (before-parameter-build on boto3's default session,
    which every client of the destination is made from)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.reads = 0.0
        self.writes = 0.0

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = model.name
        self.requests[name] += 1
        consistent = 1.0 if params.get("ConsistentRead") else 0.5
        if name == "GetItem":
            self.reads += consistent
        elif name == "BatchGetItem":
            for table in params["RequestItems"].values():
                self.reads += len(table["Keys"]) * (1.0 if table.get("ConsistentRead") else 0.5)
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.writes += 1
        elif name == "TransactWriteItems":
            self.writes += 2 * len(params["TransactItems"])
        elif name == "BatchExecuteStatement":  # PartiQL INSERTs: a standard write each
            self.writes += len(params["Statements"])
        elif name == "BatchWriteItem":
            self.writes += sum(len(items) for items in params["RequestItems"].values())

    def reset(self) -> None:
        self.requests.clear()
        self.reads = self.writes = 0.0


def measure() -> dict[str, Any]:
    """This tree's figures (the tree is the one on sys.path: its layer, local stack and benchmarks)."""
    import boto3
    import urllib3

    from local import stack as local_stack
    from local.sandbox import SandboxControl

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    counter = _DynamoDBCounter()
    running = local_stack.start()
    results: dict[str, Any] = {}
    try:
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build.dynamodb", counter)
        sandbox = SandboxControl(running.intercom_api_base)
        http = urllib3.PoolManager()
        headers = {"Authorization": "Bearer dev-write-key", "Content-Type": "application/json"}

        def send(events: list[dict[str, Any]]) -> None:
            body = json.dumps({"batch": [{**event, "messageId": f"m{next(_ids)}"} for event in events]})
            assert http.request("POST", running.url + "/v1/batch", body=body, headers=headers).status == 200

        def per_event(intercom_before: int) -> dict[str, float]:
            """What the events sent since the counter's reset cost, per person."""
            return {
                "intercom": (len(sandbox.requests()) - intercom_before) / PEOPLE,
                "dynamodb": sum(counter.requests.values()) / PEOPLE,
                "reads": counter.reads / PEOPLE,
                "writes": counter.writes / PEOPLE,
            }

        for mix, make in MIXES.items():
            for phase in ("first seen", "repeat"):
                if phase == "first seen":
                    sandbox.reset()
                    running.clear()
                    local_stack.configure(**running.function_env())
                    if mix == "group":  # the people exist; the companies are new
                        send([_identify(f"p{n}") for n in range(PEOPLE)])
                counter.reset()
                before = len(sandbox.requests())
                send([make(f"p{n}") for n in range(PEOPLE)])
                results[f"{mix}, {phase}"] = per_event(before)
        counter.reset()  # a browser: one event per request (the repeat tracks' people, known by now)
        before = len(sandbox.requests())
        for n in range(PEOPLE):
            send([_track(f"p{n}")])
        results["track, one event per request"] = per_event(before)
    finally:
        running.stop()
    results["cpu"] = _cpu()
    return results


def _cpu(runs: int = 7) -> dict[str, list[float]]:
    """Handler CPU ms per event, 100-event batches of 25 known users: tracks, and repeat traffic (identify,
    group, 2 tracks per user)."""
    from benchmarks.instant import api_request, instant_ingest, lambda_env

    users = [f"c{n}" for n in range(25)]
    mixes = {
        "100 tracks": lambda: [_track(user) for user in users for _ in range(4)],
        "100 repeat events": lambda: [e for user in users for e in (_identify(user), _group(user), _track(user), _track(user))],
    }  # fmt: skip

    os.environ.update(lambda_env())
    per_event: dict[str, list[float]] = {}
    with instant_ingest() as handle:
        for name, make in mixes.items():

            def batch(make: Any = make) -> list[dict[str, Any]]:
                return [{**event, "messageId": f"m{next(_ids)}"} for event in make()]

            for _ in range(3):
                assert handle(api_request(batch()))["statusCode"] == 200
            per_event[name] = []
            for _ in range(runs):
                request = api_request(batch())
                started = time.process_time()
                assert handle(request)["statusCode"] == 200
                per_event[name].append((time.process_time() - started) * 1000 / 100)
    return per_event


# --- both trees, side by side -------------------------------------------------------------------------
def _run(tree: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{tree / 'layers' / 'shared' / 'python'}:{tree}",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--measure"]
    done = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _git(*args: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), *args], check=True)  # noqa: S603, S607


def main() -> None:
    from benchmarks.run import markdown

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / "baseline"
        _git("worktree", "add", "--detach", "-q", str(baseline), args.baseline)
        try:
            before, after = _run(baseline), _run(ROOT)
        finally:
            _git("worktree", "remove", "--force", str(baseline))
    print(f"Per event, {PEOPLE} people per request: baseline {args.baseline} → this tree (local stack, moto)\n")
    rows = [
        (
            scenario,
            *(f"{before[scenario][key]:.2f} → {after[scenario][key]:.2f}" for key in ("intercom", "dynamodb")),
            *(f"{before[scenario][key]:.2f} → {after[scenario][key]:.2f}" for key in ("reads", "writes")),
        )
        for scenario in before
        if scenario != "cpu"
    ]
    headers = ("event", "Intercom calls", "DynamoDB requests", "read units", "write units")
    print(markdown(headers, rows))
    print("\nHandler CPU per event, ms (100-event batches, 25 known users, instant stand-ins), same run\n")
    cpu = [
        (
            mix,
            f"{min(before['cpu'][mix]):.3f} / {statistics.median(before['cpu'][mix]):.3f}",
            f"{min(after['cpu'][mix]):.3f} / {statistics.median(after['cpu'][mix]):.3f}",
            f"{statistics.median(after['cpu'][mix]) / statistics.median(before['cpu'][mix]):.2f}",
        )
        for mix in after["cpu"]
    ]
    columns = ("batch", f"baseline {args.baseline} (min / median)", "this tree (min / median)", "ratio of medians")
    print(markdown(columns, cpu))


if __name__ == "__main__":
    main()
