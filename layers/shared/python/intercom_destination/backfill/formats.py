"""The archives a backfill reads, streamed line by line in bounded memory, gzipped or not (docs/backfill.md):

- Segment's S3 archive and any newline-delimited JSON: one event a line (`{"type": "identify", ...}`);
- a line holding a batch (`{"batch": [...]}`, the HTTP API's body): its events, with the batch's context,
  integrations and sentAt merged into each as the live API does;
- RudderStack's job backups (rudder-server's archiver): one stored job a line, `{"userId", "payload",
  "createdAt", "messageId"}`, its payload the gateway's request (`{"batch": [...]}`) or one event;
- a JSON array of events (up to MAX_ARRAY_BYTES: an array is one value, read whole).

A file whose first line is none of these is refused whole, naming the file and the line. A later line
that is not JSON, too long, or of no known shape is an invalid line, reported by file and line; a gzip
stream that ends early (a truncated upload) ends the file with an invalid line saying so.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from intercom_destination.intake import bounded_json
from intercom_destination.intake.inbound import RequestError, split_items

#: The longest line read: a RudderStack job holds a gateway request (4 MB at most); more is refused.
MAX_LINE_BYTES = 8 * 1024 * 1024
#: A JSON array is one value: parsed whole, so bounded (NDJSON has no bound).
MAX_ARRAY_BYTES = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
#: Events a line may hold (a batch's bound on the live API).
_MAX_LINE_EVENTS = 2500


class FormatError(ValueError):
    """The file is not an archive we read: nothing of it is taken."""


@dataclass(frozen=True)
class Line:
    """One line of an archive: where it is, and the events it holds or why it holds none."""

    number: int  # 1-based, in the part read (the whole file unless a byte range of it)
    end: int  # bytes from the start of the (uncompressed) part to the line's end
    events: list[Any] = field(default_factory=list)
    error: str | None = None
    reason: str | None = None  # the error's kind, for counts: not_json, not_an_object, not_an_event, ...


def lines(raw: IO[bytes], name: str, skip: int = 0) -> Iterator[Line]:
    """The lines of `raw` (a file, an S3 body, a byte range of one) after the first `skip`; raises
    FormatError when its first line shows it is not an archive. gzip is recognised by its magic bytes."""
    stream: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    if stream.peek(2)[:2] == GZIP_MAGIC:
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"))
    try:
        first = stream.peek(64).lstrip()[:1]
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{name}: line 1: not a readable gzip file ({exc})") from None
    if first == b"[":
        yield from _array(stream, name, skip)
    elif first in (b"{", b""):
        yield from _ndjson(stream, name, skip)
    else:
        raise FormatError(f"{name}: line 1: not JSON lines or a JSON array (starts with {first!r})")


def _ndjson(stream: IO[bytes], name: str, skip: int) -> Iterator[Line]:
    number = offset = 0
    while True:
        try:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            size, too_long = len(raw), len(raw) > MAX_LINE_BYTES
            rest = raw
            while too_long and rest and not rest.endswith(b"\n"):  # the rest of the line is skipped, never held
                rest = stream.readline(MAX_LINE_BYTES)
                size += len(rest)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            why = f"gzip stream ends early: the file is truncated or corrupt ({exc})"
            yield Line(number + 1, offset, error=why, reason="truncated_gzip")
            return
        if not raw:
            return
        number += 1
        offset += size
        if number <= skip:
            continue
        if too_long:
            yield Line(number, offset, error=f"line over {MAX_LINE_BYTES} bytes", reason="line_too_long")
        elif raw.strip():
            line = _line(number, offset, raw)
            if number == 1 and line.error:
                raise FormatError(f"{name}: line 1: {line.error}: not an archive this backfill reads")
            yield line


def _array(stream: IO[bytes], name: str, skip: int) -> Iterator[Line]:
    """Each element of a top-level array as a line of its own (`number` is the element's position)."""
    try:
        raw = stream.read(MAX_ARRAY_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{name}: the gzip stream ends early: truncated or corrupt ({exc})") from None
    if len(raw) > MAX_ARRAY_BYTES:
        raise FormatError(
            f"{name}: a JSON array over {MAX_ARRAY_BYTES // 2**20} MB; write it as JSON lines (jq -c '.[]')"
        )
    try:
        elements = bounded_json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{name}: line 1: not a JSON array ({exc})") from None
    for number, element in enumerate(elements, start=1):
        if number > skip:
            yield Line(number, 0, *_events(element))


def _line(number: int, end: int, raw: bytes) -> Line:
    try:
        value = bounded_json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return Line(number, end, error=f"not JSON ({str(exc)[:100]})", reason="not_json")
    return Line(number, end, *_events(value))


def _events(value: Any) -> tuple[list[Any], str | None, str | None]:
    """The events one line (or array element) holds (an event, a batch, or a RudderStack job), or why none
    and its kind."""
    if not isinstance(value, dict):
        return [], "not a JSON object", "not_an_object"
    if isinstance(value.get("payload"), dict) and "type" not in value:  # a RudderStack job
        value = value["payload"]
    if isinstance(value.get("batch"), list):
        try:
            items = split_items("batch", value, 2**62, _MAX_LINE_EVENTS)
        except RequestError as exc:
            return [], exc.message, "batch_too_large"
        return [item.data for item in items], None, None
    if "type" in value:
        value.pop("writeKey", None)  # a credential: never carried further
        return [value], None, None
    return [], "not an event, a batch or a RudderStack job (no type, batch or payload)", "not_an_event"
