"""A backfill (#25) through the real pipeline, the Intercom sandbox over HTTP and moto's DynamoDB and SQS:
delivered once across stops and restarts, newest wins beside live traffic, forgotten people stay
forgotten, paced by the rate-limit window, and a dry run that sends nothing."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from intercom_destination import wiring
from intercom_destination.backfill.dry_run import DryRun
from intercom_destination.backfill.runner import Stopped, Tick
from intercom_destination.backfill.sources import local_parts, s3_parts
from intercom_destination.config.settings import get_settings

from local import stack as local_stack
from local.sandbox.control import SandboxControl
from tests.conftest import Api, cold_start
from tests.events import group, identify, sqs_record, track

PEOPLE = 12


def history(people: int = PEOPLE, day: str = "2026-02-01") -> list[dict[str, Any]]:
    """Each person's identify, group and two tracks, in that order, dated on `day`."""
    events = []
    for number in range(people):
        user, at = f"u-{number}", f"{day}T10:{number:02d}:00Z"
        events += [
            identify(user, f"i-{number}", email=f"u{number}@example.com", plan="old") | {"timestamp": at},
            group(user, f"acme-{number % 3}", f"g-{number}", name=f"Acme {number % 3}") | {"timestamp": at},
            track(user, "Order Completed", f"t-{number}-1", properties={"revenue": 5}) | {"timestamp": at},
            track(user, "Order Completed", f"t-{number}-2", properties={"revenue": 7})
            | {"timestamp": at.replace(":00Z", ":30Z")},
        ]
    return events


def write(folder: Path, name: str, events: list[Any], extra: bytes = b"") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(json.dumps(event).encode() + b"\n" for event in events) + extra))
    return path


def ticks() -> tuple[list[Tick], Any]:
    seen: list[Tick] = []
    return seen, lambda tick: seen.append(Tick(tick.events, tick.bytes_done, tick.bytes_total))


def sent(sandbox: SandboxControl, path: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == path and r["status"] < 300]


def test_an_archive_is_delivered_and_its_bad_lines_reported(sandbox: SandboxControl, tmp_path: Path) -> None:
    write(tmp_path, "segment-logs/src/2026-02-01/a.gz", history(), b"{oops\n")
    write(tmp_path, "segment-logs/src/2026-02-02/b.gz", [track("u-1", "Late", "late-1") | {"userId": ""}])
    parts = local_parts(tmp_path)
    assert [part.name for part in parts] == ["segment-logs/src/2026-02-01/a.gz", "segment-logs/src/2026-02-02/b.gz"]
    seen, on_tick = ticks()
    wiring.backfill_service("delivered").run(parts, on_tick=on_tick)
    state = sandbox.state()
    assert len(state["contacts"]) == PEOPLE
    assert len(state["companies"]) == 3
    assert Counter(event["event_name"] for event in state["events"]) == {"Order Completed": 2 * PEOPLE}
    status = wiring.checkpoints("delivered").status()
    assert status["counts"]["identify.delivered"] == PEOPLE
    assert status["counts"]["track.delivered"] == 2 * PEOPLE
    assert (status["counts"]["invalid.not_json"], status["counts"]["invalid.invalid_event"]) == (1, 1)
    invalid = {(item["part"], item["line"]) for item in status["invalid"]}
    assert invalid == {("segment-logs/src/2026-02-01/a.gz", 4 * PEOPLE + 1), ("segment-logs/src/2026-02-02/b.gz", 1)}
    assert seen[-1].events == 4 * PEOPLE + 1
    assert seen[-1].bytes_done == seen[-1].bytes_total


def test_a_stopped_backfill_goes_on_and_every_event_is_delivered_once(
    stack: local_stack.Stack, sandbox: SandboxControl, tmp_path: Path
) -> None:
    write(tmp_path, "a.gz", history())
    write(tmp_path, "b.gz", [track(f"u-{n}", "Renewed", f"renew-{n}") for n in range(4)])
    parts = local_parts(tmp_path)
    cold_start(stack, BACKFILL_CHUNK_EVENTS="8")
    seen: list[int] = []
    with pytest.raises(Stopped):
        wiring.backfill_service("resumed").run(parts, stop=lambda: len(seen) >= 2, on_tick=lambda t: seen.append(1))
    first = len(sent(sandbox, "/events"))
    assert 0 < first < 2 * PEOPLE  # stopped part way
    cold_start(stack, BACKFILL_CHUNK_EVENTS="8")  # a new process: nothing remembered but checkpoints and ledger
    wiring.backfill_service("resumed").run(parts, on_tick=lambda tick: None)
    assert len(sent(sandbox, "/events")) == 2 * PEOPLE + 4  # each track sent once, none twice
    assert len(sandbox.state()["events"]) == 2 * PEOPLE + 4
    before = len(sandbox.requests())
    wiring.backfill_service("resumed").run(parts, on_tick=lambda tick: None)  # a second start: a no-op
    wiring.backfill_service("another-name").run(parts, on_tick=lambda tick: None)  # a new run: the ledger says done
    assert len(sandbox.requests()) == before
    assert wiring.checkpoints("another-name").status()["counts"]["track.duplicate"] == 2 * PEOPLE + 4


def test_a_crash_between_sending_and_its_checkpoint_sends_nothing_twice(
    sandbox: SandboxControl, tmp_path: Path
) -> None:
    """A reader that died after its chunk's events were delivered but before its checkpoint: the next run
    reads the chunk again and finds each event in the ledger."""
    events = history(people=3)
    write(tmp_path, "a.gz", events)
    from datetime import UTC, datetime

    from intercom_destination.intake.inbound import Item

    crashed = wiring.backfill_ingest().process(
        wiring.backfill_caller(get_settings()),
        [Item(n, e) for n, e in enumerate(events[:6])],
        datetime.now(UTC),
        time.monotonic(),
        30,
    )  # what the dead reader sent: its checkpoint never written
    assert crashed.counts["track.delivered"] == 2
    wiring.backfill_service("after-a-crash").run(local_parts(tmp_path), on_tick=lambda tick: None)
    counts = wiring.checkpoints("after-a-crash").status()["counts"]
    assert counts["track.duplicate"] == 2
    assert counts["track.delivered"] == 4
    assert len(sent(sandbox, "/events")) == 6  # each track once


def test_a_run_of_many_parts_lists_them_on_pages_and_knows_its_last(stack: local_stack.Stack) -> None:
    """An S3 archive may have tens of thousands of parts: the manifest is paged (an item holds 400 KB),
    the status reads the parts in batches, and only the part finished last says the run is done."""
    from intercom_destination.backfill.checkpoints import MANIFEST_PAGE, PartTaken, Progress

    checkpoints = wiring.checkpoints("many-parts")
    names = [f"s3://bucket/segment-logs/src/{n:05d}.gz" for n in range(2 * MANIFEST_PAGE + 7)]
    checkpoints.start(names)
    finished = [checkpoints.finish(Progress(name, lines=1)) for name in names]
    assert finished == [False] * (len(names) - 1) + [True]
    with pytest.raises(PartTaken):
        checkpoints.finish(Progress(names[0], lines=1))  # a second reader of a finished part stops
    status = checkpoints.status()
    assert (status["parts"], status["parts_done"], status["lines"]) == (len(names), len(names), len(names))


def test_history_never_overwrites_newer_live_data(api: Api, sandbox: SandboxControl, tmp_path: Path) -> None:
    live = identify("u-0", "live-1", email="u0@example.com", plan="new") | {"timestamp": "2026-06-01T00:00:00Z"}
    assert api.batch(live).status == 200
    write(tmp_path, "old.gz", history(people=2))
    wiring.backfill_service("stale").run(local_parts(tmp_path), on_tick=lambda tick: None)
    contacts = {c["external_id"]: c for c in sandbox.state()["contacts"]}
    assert contacts["u-0"]["custom_attributes"]["plan"] == "new"  # the older archive identify was stale
    assert contacts["u-1"]["custom_attributes"]["plan"] == "old"
    assert wiring.checkpoints("stale").status()["counts"]["identify.stale"] == 1


def test_a_forgotten_person_stays_forgotten_whatever_the_archive_age(
    stack: local_stack.Stack, sandbox: SandboxControl, tmp_path: Path
) -> None:
    write(tmp_path, "old.gz", history(people=2, day="2024-01-01"))
    stack.forget(user_id="u-1")
    wiring.backfill_service("forgotten").run(local_parts(tmp_path), on_tick=lambda tick: None)
    assert [c["external_id"] for c in sandbox.state()["contacts"]] == ["u-0"]
    counts = wiring.checkpoints("forgotten").status()["counts"]
    assert counts["identify.forgotten"] == 1
    assert counts["track.forgotten"] == 2
    table = boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)
    tombstones = [
        item
        for item in table.scan(TableName=stack.resources.table)["Items"]
        if item["id"]["S"].startswith("intercom-destination#forgotten#")
    ]
    assert tombstones
    assert all("expiration" not in item for item in tombstones)


def test_paced_by_the_window(sandbox: SandboxControl, tmp_path: Path) -> None:
    """A window of 30 calls a second: a backfill at half of it waits for the window's resets, never meets a
    429, and every event is delivered (or queued for the redrive), none lost."""
    sandbox.configure(rate_limit=30, window_seconds=1)
    write(tmp_path, "a.gz", history(people=8))
    tick = wiring.backfill_service("paced", share=0.5).run(local_parts(tmp_path), on_tick=lambda tick: None)
    assert tick.paused_seconds > 0
    counts = wiring.checkpoints("paced").status()["counts"]
    ended = sum(n for key, n in counts.items() if key.split(".")[1] in ("delivered", "queued"))
    assert ended == 4 * 8
    statuses = Counter(r["status"] for r in sandbox.requests())
    assert statuses[429] == 0  # it stopped before the window did
    per_window = Counter(int(r["at"]) for r in sandbox.requests())
    assert max(per_window.values()) <= 30 * 0.5 * 1.5  # its half, give or take a chunk's estimate


def test_a_429_pauses_the_backfill_and_its_call_is_made_again_after_the_reset(
    stack: local_stack.Stack, sandbox: SandboxControl, tmp_path: Path
) -> None:
    """Live traffic took the window (a 429 the pacer could not foresee): the backfill's call waits for the
    reset and is made again; nothing goes to the dead-letter queue."""
    cold_start(stack, INTERCOM_WAIT_FOR_WINDOW="true")
    sandbox.configure(window_seconds=2, faults=[{"status": 429, "method": "POST", "path": "/events", "times": 1}])
    write(tmp_path, "a.gz", history(people=2))
    started = time.monotonic()
    wiring.backfill_service("after-a-429").run(local_parts(tmp_path), on_tick=lambda tick: None)
    assert [r["status"] for r in sandbox.requests() if r["path"] == "/events"] == [429] + [202] * 4
    assert time.monotonic() - started >= 0.5  # it waited for the window
    assert stack.depth() == 0
    assert wiring.checkpoints("after-a-429").status()["counts"]["track.delivered"] == 4


def test_a_dry_run_counts_samples_and_estimates_and_sends_nothing(sandbox: SandboxControl, tmp_path: Path) -> None:
    write(tmp_path, "a.gz", history(people=3), b"[1, 2]\n")
    settings = get_settings()
    dry = DryRun(wiring.backfill_ingest().actions(), wiring.backfill_caller(settings), settings, 0.5)
    summary = dry.read(local_parts(tmp_path))
    assert summary["by_type"] == {"group": 3, "identify": 3, "track": 6}
    assert summary["by_action"] == {"Identify Company": 3, "Identify Contact": 3, "Track Event": 6}
    assert summary["invalid"] == [{"file": "a.gz", "line": 13, "error": "not a JSON object"}]
    assert summary["invalid_by_reason"] == {"not_an_object": 1}
    assert summary["samples"]["Track Event"][0]["requests"][0]["path"] == "/events"
    assert summary["estimated_seconds"] == round(summary["requests"] / (0.5 * 10000 / 60), 1)
    assert sandbox.requests() == []


def test_s3_objects_split_into_ranges_read_every_line_once(stack: local_stack.Stack, tmp_path: Path) -> None:
    """Byte ranges of an uncompressed object: each line is read by the range it starts in, whatever the
    range size (a line across a boundary, a boundary on a newline)."""
    s3 = boto3.client("s3", endpoint_url=stack.resources.endpoint)
    s3.create_bucket(Bucket="archive-ranges")
    events = history(people=20)
    body = b"".join(json.dumps(event).encode() + b"\n" for event in events)
    s3.put_object(Bucket="archive-ranges", Key="logs/plain.ndjson", Body=body)
    s3.put_object(Bucket="archive-ranges", Key="logs/packed.gz", Body=gzip.compress(body))
    s3.put_object(Bucket="archive-ranges", Key="logs/_reports/old.json", Body=b"{}")
    from intercom_destination.backfill.formats import lines

    for range_bytes in (97, 1000, len(body) // 3, body.index(b"\n") + 1):
        parts = s3_parts(s3, "archive-ranges", "logs/", range_bytes)
        assert sum(part.whole for part in parts) == 1  # the gzip object is one part
        read = [event["messageId"] for part in parts for line in lines(part.open(), part.name) for event in line.events]
        assert sorted(read) == sorted(2 * [event["messageId"] for event in events])


def test_on_aws_a_start_queues_parts_workers_read_them_and_the_last_writes_the_report(
    stack: local_stack.Stack, sandbox: SandboxControl
) -> None:
    """The backfill function as Lambda runs it: a start, then SQS records to workers (one whose time runs
    out hands its part on), a status, and a report object once the last part is done."""
    s3 = boto3.client("s3", endpoint_url=stack.resources.endpoint)
    bucket, prefix = stack.resources.backfill_bucket, "segment-logs/src-1/"
    events = history()
    for day, chunk in enumerate((events[:20], events[20:])):
        body = gzip.compress(b"".join(json.dumps(event).encode() + b"\n" for event in chunk))
        s3.put_object(Bucket=bucket, Key=f"{prefix}2026-02-0{day + 1}/{day}.gz", Body=body)
    handler = local_stack.load_backfill()
    started = local_stack.invoke(handler, {"start": {"prefix": prefix}}, name="backfill")
    assert started["parts"] == 2
    sqs = boto3.client("sqs", endpoint_url=stack.resources.endpoint)
    url = stack.resources.backfill_queue_url

    def records() -> list[dict[str, Any]]:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [sqs_record(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in received]

    first, second = records()
    out_of_time = local_stack.invoke(handler, {"Records": [first]}, timeout_seconds=60, name="backfill")
    assert out_of_time == {"batchItemFailures": []}  # no time to read: the part goes back to the queue
    (handed_on,) = records()
    assert json.loads(handed_on["body"]) == json.loads(first["body"])
    for record in (handed_on, second):
        answer = local_stack.invoke(handler, {"Records": [record]}, timeout_seconds=900, name="backfill")
        assert answer == {"batchItemFailures": []}
    status = local_stack.invoke(handler, {"status": started["run"]}, name="backfill")
    assert (status["parts"], status["parts_done"]) == (2, 2)
    assert status["counts"]["track.delivered"] == 2 * PEOPLE
    report_key = f"{prefix}_reports/{started['run']}.json"
    assert json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read()) == status
    assert len(sandbox.state()["events"]) == 2 * PEOPLE
    s3.delete_object(Bucket=bucket, Key=report_key)
    again = local_stack.invoke(handler, {"start": {"prefix": prefix}}, name="backfill")
    assert again["finished"] is True  # nothing queued: the report is written again at once
    assert records() == []
    assert json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read()) == status
