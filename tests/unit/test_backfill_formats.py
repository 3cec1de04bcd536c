"""The archives a backfill reads (#25): each format as its producer writes it, gzipped or not, streamed in
bounded memory; a bad line is reported by its number and the file goes on; anything else is refused
naming the file and the line."""

from __future__ import annotations

import gzip
import io
import json
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from intercom_destination.backfill.formats import MAX_LINE_BYTES, FormatError, Line, lines
from intercom_destination.backfill.pacing import FIRST_CHUNK, Pacer
from intercom_destination.intercom.rate_limit import WINDOW_WAITS, RateLimitState

from tests.events import identify, track


def ndjson(*values: Any) -> bytes:
    return b"".join(json.dumps(value).encode() + b"\n" for value in values)


def read(raw: bytes, name: str = "archive", skip: int = 0) -> list[Line]:
    return list(lines(io.BytesIO(raw), name, skip))


def segment_line(number: int) -> dict[str, Any]:
    """A message as Segment's S3 archive stores it: the API's fields plus what Segment added."""
    return identify(f"u-{number}", f"m-{number}", email=f"u{number}@example.com") | {
        "receivedAt": "2026-03-01T10:00:00.000Z",
        "projectId": "src-1",
        "version": 2,
        "writeKey": "should-not-travel",
    }


def test_segment_s3_archive_gzipped_one_event_a_line() -> None:
    archive = gzip.compress(ndjson(*(segment_line(n) for n in range(3))))
    read_lines = read(archive)
    assert [line.number for line in read_lines] == [1, 2, 3]
    assert [line.events[0]["userId"] for line in read_lines] == ["u-0", "u-1", "u-2"]
    assert all("writeKey" not in line.events[0] for line in read_lines)  # a credential never travels
    assert read_lines[-1].end == len(gzip.decompress(archive))


def test_rudderstack_job_backup_lines_hold_the_gateway_request() -> None:
    """rudder-server's archiver writes {userId, payload, createdAt, messageId}, one job a line; a gateway
    job's payload is the request: a batch, whose context is merged into each event as the live API does."""
    job = {
        "userId": "<<>>anon-1<<>>u-1",
        "payload": {
            "batch": [identify("u-1", "r-1", plan="pro"), track("u-1", "Signed Up", "r-2")],
            "context": {"library": {"name": "rudder-sdk-python"}},
            "writeKey": "secret",
            "receivedAt": "2026-03-01T10:00:00Z",
        },
        "createdAt": "2026-03-01T10:00:00.1Z",
        "messageId": "",
    }
    single = {"userId": "u-2", "payload": track("u-2", "Paid", "r-3"), "createdAt": "2026-03-01T10:00:01Z"}
    first, second = read(gzip.compress(ndjson(job, single)))
    assert [event["messageId"] for event in first.events] == ["r-1", "r-2"]
    assert first.events[1]["context"]["library"]["name"] == "rudder-sdk-python"
    assert second.events == [track("u-2", "Paid", "r-3")]


def test_a_json_array_and_a_batch_line() -> None:
    array = json.dumps([identify("u-1", "a-1"), "nonsense", track("u-1", "X", "a-2")]).encode()
    read_lines = read(array)
    assert [(line.number, len(line.events), line.error) for line in read_lines] == [
        (1, 1, None),
        (2, 0, "not a JSON object"),
        (3, 1, None),
    ]
    batch = read(ndjson({"batch": [identify("u-1", "b-1"), identify("u-2", "b-2")]}))
    assert len(batch[0].events) == 2


def test_a_bad_line_is_reported_by_number_and_the_file_goes_on() -> None:
    raw = ndjson(identify("u-1", "1")) + b"{not json\n\n" + ndjson({"hello": 1}, identify("u-2", "2"))
    read_lines = read(raw)
    assert [(line.number, bool(line.events), (line.error or "")[:12], line.reason) for line in read_lines] == [
        (1, True, "", None),
        (2, False, "not JSON (Ex", "not_json"),
        (4, False, "not an event", "not_an_event"),
        (5, True, "", None),
    ]


def test_hostile_values_stay_inside_their_event() -> None:
    """Nesting thousands deep and NaN are parsed with the live API's bounds: the event carries markers
    that validation refuses, the line itself is read."""
    deep = b'{"type":"track","userId":"u","event":"e","properties":' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    nan = b'{"type":"track","userId":"u","event":"e","properties":{"n":NaN}}\n'
    read_lines = read(ndjson(identify("u", "1")) + deep + nan)
    assert [len(line.events) for line in read_lines] == [1, 1, 1]


def test_a_truncated_gzip_ends_the_file_with_an_invalid_line() -> None:
    archive = gzip.compress(ndjson(*(segment_line(n) for n in range(2000))))
    read_lines = read(archive[: len(archive) // 2])
    assert read_lines[-1].error is not None
    assert "truncated" in read_lines[-1].error
    assert 0 < len(read_lines) < 2000
    assert all(line.events for line in read_lines[:-1])


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"id,email\n1,a@example.com\n", "archive.csv: line 1: not JSON lines or a JSON array"),
        (gzip.compress(b"PK\x03\x04 zip inside"), "archive.csv: line 1: not JSON lines or a JSON array"),
        (b'{"hello": "world"}\n', "archive.csv: line 1: not an event, a batch or a RudderStack job"),
        (b'{\n  "type": "identify"\n}\n', "archive.csv: line 1: not JSON"),
    ],
)
def test_anything_else_is_refused_naming_the_file_and_line(raw: bytes, said: str) -> None:
    with pytest.raises(FormatError) as refused:
        read(raw, "archive.csv")
    assert str(refused.value).startswith(said)


def test_an_over_long_line_is_skipped_without_holding_it() -> None:
    long = b'{"type":"track","x":"' + b"a" * (MAX_LINE_BYTES + 10) + b'"}\n'
    read_lines = read(ndjson(identify("u", "1")) + long + ndjson(identify("u", "2")))
    assert [(line.number, line.error is not None) for line in read_lines] == [(1, False), (2, True), (3, False)]
    assert read_lines[-1].end == len(ndjson(identify("u", "1"))) + len(long) + len(ndjson(identify("u", "2")))


def test_skip_goes_on_after_a_checkpoint() -> None:
    raw = gzip.compress(ndjson(*(segment_line(n) for n in range(10))))
    assert [line.number for line in read(raw, skip=7)] == [8, 9, 10]


class Generated(io.RawIOBase):
    """A gzipped archive of `events` lines made while it is read: a multi-GB-shaped file in no memory."""

    def __init__(self, events: int) -> None:
        self._chunks = self._generate(events)
        self._pending = b""

    @staticmethod
    def _generate(events: int) -> Iterator[bytes]:
        compressor = gzip.GzipFile(fileobj=(sink := io.BytesIO()), mode="wb")
        for number in range(events):
            compressor.write(json.dumps(segment_line(number)).encode() + b"\n")
            if number % 1000 == 999:
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
        compressor.close()
        yield sink.getvalue()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


@pytest.mark.parametrize("events", [10_000, 40_000])
def test_memory_stays_flat_whatever_the_file_size(events: int) -> None:
    tracemalloc.start()
    try:
        count = sum(len(line.events) for line in lines(io.BufferedReader(Generated(events)), "big.gz"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == events
    assert peak < 4 * 1024 * 1024  # the same bound for 4× the file: nothing grows with it


def pacer(limit: int, remaining: int, share: float, reset_in: float = 10.0) -> tuple[Pacer, list[float]]:
    window = RateLimitState()
    window.limit, window.remaining, window.reset_at = limit, remaining, 1000.0 + reset_in
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        window.remaining, window.reset_at = limit, 2000.0  # the window reset

    return Pacer(window, share, chunk_events=200, sleep=sleep, clock=lambda: 1000.0), slept


def test_the_pacer_leaves_live_traffic_its_part_of_the_window() -> None:
    assert Pacer(RateLimitState(), 0.8, chunk_events=200).next_chunk() == FIRST_CHUNK  # no window seen yet
    paced, slept = pacer(limit=1000, remaining=1000, share=0.8)
    paced.observe(events=10, calls=20)  # 2 calls an event
    assert paced.next_chunk() == 200  # 1000 - 200 kept for live = 800 calls = 400 events; capped by the chunk
    paced, slept = pacer(limit=1000, remaining=300, share=0.8)
    paced.observe(events=10, calls=20)
    assert paced.next_chunk() == 50  # (300 - 200) / 2
    assert slept == []


def test_the_pacer_waits_for_the_window_when_live_traffic_used_the_rest() -> None:
    paced, slept = pacer(limit=1000, remaining=150, share=0.8, reset_in=4.0)  # live left less than its part
    paced.observe(events=10, calls=10)
    assert paced.next_chunk() == 200
    assert slept == [1.0]  # waits (a second at a time, to see a stop) until the window resets
    paced, _ = pacer(limit=1000, remaining=0, share=0.5)
    assert paced.next_chunk(stop=lambda: True) == 0  # stopped while waiting


def test_a_call_that_meets_a_spent_window_waits_for_its_reset_when_it_may() -> None:
    """What a backfill's client does on a 429 (or a window with nothing left): the same call after the
    reset, while that fits its deadline; a live client's call is queued at once instead."""
    from intercom_destination.intercom.errors import RateLimitedError

    window, tries = RateLimitState(), []

    def call() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise RateLimitedError(0.0)  # reset already passed: no real sleep
        return "answered"

    assert window.waiting_out(call, can_wait=lambda seconds: True) == "answered"
    assert len(tries) == 3
    tries.clear()
    with pytest.raises(RateLimitedError):
        window.waiting_out(call, can_wait=lambda seconds: False)  # past its deadline: queued as live calls are
    assert len(tries) == 1

    def always_spent() -> str:
        tries.append(1)
        raise RateLimitedError(0.0)

    tries.clear()
    with pytest.raises(RateLimitedError):
        window.waiting_out(always_spent, can_wait=lambda seconds: True)
    assert len(tries) == WINDOW_WAITS + 1  # then it is queued after all


def hostile_line(rng: random.Random) -> bytes:
    """Any bytes a broken or hostile archive line may hold."""
    kind = rng.randrange(8)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" ")
    if kind == 1:
        depth = rng.randrange(1, 3000)
        return b'{"type":"track","userId":"u","event":"e","properties":' + b"[" * depth + b"]" * depth + b"}"
    if kind == 2:
        return b'{"type":"identify","userId":' + str(rng.randrange(10**40)).encode() + b',"traits":{"n":NaN}}'
    if kind == 3:
        return json.dumps({"batch": [track("u", "E", str(n)) for n in range(rng.randrange(0, 5))]}).encode()
    if kind == 4:
        return json.dumps({"payload": {"batch": "not a list"}, "userId": "x"}).encode()
    if kind == 5:
        return json.dumps(rng.choice([None, 1, "s", [1, 2], {"a": 1}, {"type": None}, {"type": "x" * 5000}])).encode()
    if kind == 6:
        return b'{"type":"track","userId":"\\ud800","event":"e","timestamp":"9999-12-31T23:59:59Z"}'
    return json.dumps(identify(f"u-{rng.randrange(100)}", str(rng.random()))).encode()


@pytest.mark.parametrize("seed", range(5))
def test_hostile_lines_never_stop_the_file_and_each_is_accounted_for(seed: int) -> None:
    """Bounded fuzz: 400 lines of anything after a valid first line, gzipped or not. Every non-blank line
    comes back once, in order, holding events or saying why not; nothing raises."""
    rng = random.Random(seed)
    body = [json.dumps(identify("u-0", "first")).encode()] + [hostile_line(rng) for _ in range(400)]
    raw = b"\n".join(body) + b"\n"
    for data in (raw, gzip.compress(raw)):
        read_lines = read(data)
        expected = [n for n, line in enumerate(body, start=1) if line.strip()]
        assert [line.number for line in read_lines] == expected
        empty_batch = json.dumps({"batch": []}).encode()
        assert all(bool(line.events) != bool(line.error) for line in read_lines if body[line.number - 1] != empty_batch)
        assert all((line.error is None) == (line.reason is None) for line in read_lines)
