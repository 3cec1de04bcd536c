"""Where an archive's parts come from: files on disk (`make backfill`), or S3 objects split into byte
ranges that many Lambda workers read at once (docs/backfill.md).

A gzipped object is one part (a gzip stream cannot be entered in the middle). An uncompressed object over
RANGE_BYTES is split: a range owns the lines that start inside it, so its reader skips the partial line
it starts in (the previous range's last) and reads on past its end to finish its own last line.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from intercom_destination.backfill.formats import GZIP_MAGIC

#: Bytes of an uncompressed object one worker reads (about 100,000 events: minutes at the rate limit).
RANGE_BYTES = 64 * 1024 * 1024
#: Objects under this folder of a backfill prefix are its reports, not its archive.
REPORTS = "_reports/"


@dataclass(frozen=True)
class LocalFile:
    name: str  # the path under the folder given (or the file's name): stable across restarts
    path: Path
    size: int

    def open(self) -> IO[bytes]:
        return self.path.open("rb")


def local_parts(given: Path) -> list[LocalFile]:
    """The file, or every file under the folder (recursively, in name order; hidden ones skipped)."""
    if given.is_file():
        return [LocalFile(given.name, given, given.stat().st_size)]
    files = sorted(
        path
        for path in given.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(given).parts)
    )
    return [LocalFile(str(path.relative_to(given)), path, path.stat().st_size) for path in files]


def run_name(parts: list[Any], salt: str = "") -> str:
    """A run named by what it reads: the same files (names and sizes) are the same run, so starting it
    again goes on from its checkpoints."""
    listing = json.dumps([salt, *[(part.name, part.size) for part in parts]])
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class S3Part:
    """An S3 object, or the byte range [start, end) of one."""

    client: Any
    bucket: str
    key: str
    start: int
    end: int
    whole: bool

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}" + ("" if self.whole else f"@{self.start}-{self.end}")

    @property
    def size(self) -> int:
        return self.end - self.start

    def open(self) -> IO[bytes]:
        if self.whole:  # read through our adapter: the runtime's botocore may predate StreamingBody.readinto
            return io.BufferedReader(_Body(self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"]))
        first = max(self.start - 1, 0)  # the byte before: is the range's first byte a line's first?
        body = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={first}-")["Body"]
        return io.BufferedReader(_Range(body, self.start, self.end))

    def describe(self) -> dict[str, Any]:
        """What an SQS message carries to a worker (`described` reads it back)."""
        return {"bucket": self.bucket, "key": self.key, "start": self.start, "end": self.end, "whole": self.whole}

    @classmethod
    def described(cls, client: Any, part: dict[str, Any]) -> S3Part:
        return cls(client, part["bucket"], part["key"], part["start"], part["end"], part["whole"])


def s3_parts(client: Any, bucket: str, prefix: str, range_bytes: int = RANGE_BYTES) -> list[S3Part]:
    """Every object under the prefix (its reports excepted), split into ranges where it can be."""
    parts: list[S3Part] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, size = item["Key"], item["Size"]
            if key.endswith("/") or key[len(prefix) :].lstrip("/").startswith(REPORTS) or size == 0:
                continue
            if size <= range_bytes or _gzipped(client, bucket, key):
                parts.append(S3Part(client, bucket, key, 0, size, True))
            else:
                starts = range(0, size, range_bytes)
                parts += [S3Part(client, bucket, key, s, min(s + range_bytes, size), False) for s in starts]
    return parts


def _gzipped(client: Any, bucket: str, key: str) -> bool:
    head = client.get_object(Bucket=bucket, Key=key, Range="bytes=0-1")["Body"].read()
    return bytes(head) == GZIP_MAGIC


class _Range(io.RawIOBase):
    """The lines that start inside [start, end) of a body read from start - 1 (or 0)."""

    def __init__(self, body: Any, start: int, end: int) -> None:
        self._body = io.BufferedReader(_Body(body))
        self._end = end
        self._pos = start
        self._boundary = True
        if start > 0 and self._body.read(1) != b"\n":
            self._pos += len(self._body.readline())  # the previous range's last line

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._end and self._boundary:
            return 0
        if self._pos < self._end:
            data = self._body.read1(min(len(buffer), self._end - self._pos))
        else:  # past the end: only the rest of this range's last line
            data = self._body.readline(len(buffer))
        if not data:
            self._boundary, self._pos = True, self._end
            return 0
        self._pos += len(data)
        self._boundary = data.endswith(b"\n")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class _Body(io.RawIOBase):
    """A botocore StreamingBody as a raw stream (what io.BufferedReader reads from)."""

    def __init__(self, body: Any) -> None:
        self._stream = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()
