"""A backfill: an archive's parts read in order, line by line, each chunk of events handed to the same
pipeline as a live request (ingest.Ingest.process: validation, the actions file, integrations switches,
messageId de-duplication, newest wins, per-person order, forgotten people dropped), paced to its share of
Intercom's rate limit, checkpointed after every chunk.

Exactly once across restarts: the events of a chunk are claimed in the backfill's ledger (the claims of
the idempotency table, kept BACKFILL_LEDGER_DAYS instead of a day) before they are sent, and the
checkpoint moves past a chunk only once each of its events is delivered, queued, or refused. A run
stopped between the two reads the chunk again and finds its events done (counted as duplicates).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from aws_lambda_powertools import Logger

from intercom_destination.backfill.checkpoints import Checkpoints, Progress
from intercom_destination.backfill.formats import FormatError, Line, lines
from intercom_destination.backfill.pacing import Pacer
from intercom_destination.ingest.report import Report
from intercom_destination.ingest.service import Ingest
from intercom_destination.intake.inbound import Caller, Item
from intercom_destination.intercom.calls import Call, CallLog

logger = Logger(child=True)
#: Tries of a chunk's events that could not be claimed (another reader holds them, DynamoDB throttled),
#: a claim's lifetime apart: a crashed reader's claims are free by then.
BUSY_TRIES = 3


class Stopped(RuntimeError):
    """The run ended before its archive did (asked to stop, or events that cannot be made durable); it
    goes on from its checkpoints when started again. `tick`: what it did until then."""

    tick: Tick | None = None


class Part(Protocol):
    """A file, or a byte range of an S3 object, read as one unit of progress."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    def open(self) -> IO[bytes]: ...


@dataclass
class Tick:
    """What a progress bar shows after each chunk."""

    events: int = 0  # events handled this run (all endings)
    bytes_done: int = 0  # of the archive, compressed as stored
    bytes_total: int = 0
    paused_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    calls: list[Call] = field(default_factory=list)  # Intercom's answers, for the metrics
    run_finished: bool = False  # this reader finished the run's last part


class Backfill:
    def __init__(
        self,
        ingest: Ingest,
        caller: Caller,
        checkpoints: Checkpoints,
        pacer: Pacer,
        calls: CallLog,
        chunk_budget_seconds: float,
        claim_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ingest = ingest
        self._caller = caller
        self._checkpoints = checkpoints
        self._pacer = pacer
        self._calls = calls
        self._budget = chunk_budget_seconds
        self._claim_seconds = claim_seconds
        self._clock = clock
        self._sleep = sleep

    def run(
        self,
        parts: Sequence[Part],
        stop: Callable[[], bool] = lambda: False,
        on_tick: Callable[[Tick], None] = print,
        whole_run: bool = True,
    ) -> Tick:
        """Every part not finished yet, from its checkpoint (`whole_run`: these are all the run's parts, as
        its status will count them; a worker reads one part of a run). Raises Stopped when `stop()` ends it
        early, or when events could not be made durable (the next start retries them); either carries
        what was done until then."""
        tick = Tick(bytes_total=sum(part.size for part in parts))
        if whole_run:
            self._checkpoints.start([part.name for part in parts])
        try:
            for part in parts:
                progress = self._checkpoints.load(part.name)
                if not progress.done:
                    self._part(part, progress, tick, stop, on_tick)
                tick.bytes_done += part.size
        except Stopped as stopped:
            stopped.tick = tick
            raise
        on_tick(tick)
        return tick

    def _part(
        self, part: Part, progress: Progress, tick: Tick, stop: Callable[[], bool], on_tick: Callable[[Tick], None]
    ) -> None:
        base = tick.bytes_done
        with closing(part.open()) as raw:
            try:
                reader = lines(raw, part.name, skip=progress.lines)
                for chunk in _chunks(reader, lambda: self._pacer.next_chunk(stop)):
                    if stop():
                        raise Stopped(f"stopped at {part.name}, line {progress.lines}")
                    saved = progress.lines
                    self._chunk(chunk, progress, tick)
                    self._checkpoints.save(progress, saved)
                    tick.bytes_done = base + _position(raw, progress.offset)
                    tick.paused_seconds = self._pacer.paused_seconds
                    on_tick(tick)
            except FormatError as refused:
                progress.add_invalid(1, str(refused), "not_an_archive")
                logger.warning("file refused", extra={"part": part.name, "error": str(refused)})
        tick.run_finished = self._checkpoints.finish(progress) or tick.run_finished
        tick.bytes_done = base

    def _chunk(self, chunk: list[Line], progress: Progress, tick: Tick) -> None:
        """The chunk's events through the pipeline, retrying those not claimed; its progress recorded."""
        line_of: dict[int, int] = {}
        items: list[Item] = []
        for line in chunk:
            if line.error:
                progress.add_invalid(line.number, line.error, line.reason or "invalid_line")
            for event in line.events:
                line_of[len(items)] = line.number
                items.append(Item(len(items), event))
        counts: Counter[str] = Counter()
        pending = items
        for attempt in range(BUSY_TRIES + 1):
            if not pending:
                break
            if attempt:  # past the claim's lifetime by the last try: a crashed reader's claims are free
                self._sleep((self._claim_seconds + 1) / BUSY_TRIES)
            report, calls = self._process(pending)
            tick.calls += calls
            counts.update({key: n for key, n in report.counts.items() if not key.endswith(".busy")})
            for error in report.rejected:
                where = line_of[pending[error.index].index]
                progress.add_invalid(where, f"{error.field}: {error.message}", error.code)
            busy = {error.index for error in report.failed}
            pending = [item for position, item in enumerate(pending) if position in busy]
        if pending:
            raise Stopped(f"{len(pending)} event(s) could not be claimed (DynamoDB unavailable?); start again")
        progress.counts.update(counts)
        progress.lines, progress.offset = chunk[-1].number, chunk[-1].end
        tick.events += len(items)
        tick.counts.update(counts)

    def _process(self, items: list[Item]) -> tuple[Report, list[Call]]:
        numbered = [Item(position, item.data) for position, item in enumerate(items)]
        report = self._ingest.process(self._caller, numbered, datetime.now(UTC), self._clock(), self._budget)
        calls = self._calls.drain()
        self._pacer.observe(len(items), len(calls))
        return report, calls


def _chunks(reader: Iterator[Line], size: Callable[[], int]) -> Iterator[list[Line]]:
    """Whole lines, grouped until they hold `size()` events (asked afresh for each chunk)."""
    chunk: list[Line] = []
    wanted = size()
    events = 0
    for line in reader:
        chunk.append(line)
        events += len(line.events)
        if events >= wanted:
            yield chunk
            chunk, events = [], 0
            wanted = size()
            if wanted <= 0:
                raise Stopped("stopped while pacing")
    if chunk:
        yield chunk


def _position(raw: Any, fallback: int) -> int:
    """Bytes of the stored (maybe compressed) part read so far, for the progress bar."""
    try:
        return int(raw.tell())
    except (AttributeError, OSError, ValueError):
        return fallback
