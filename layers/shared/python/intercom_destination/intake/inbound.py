"""Turns raw HTTP request bytes into authenticated, size-checked calls; knows nothing of Intercom.

Order matters: a key in a header is checked before the body is even inflated (an unauthenticated
caller costs no decompression or parsing); decode and size-check before parsing (no gzip bomb, no huge
JSON); parse with bounds (bounded_json); authenticate before validating (an unauthenticated caller
learns nothing about our schema).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from intercom_destination.intake import bounded_json

#: Paths that carry one call, mapped to the type they imply (the browser SDK uses one-letter aliases).
SINGLE_CALL_PATHS = {
    "identify": "identify", "i": "identify",
    "track": "track", "t": "track",
    "page": "page", "p": "page",
    "screen": "screen", "s": "screen",
    "group": "group", "g": "group",
    "alias": "alias", "a": "alias",
}  # fmt: skip
#: Paths that carry `{"batch": [...]}`.
BATCH_PATHS = frozenset({"batch", "b", "import"})
#: The path of hosted pipelines' webhook destinations: one event of any type, an array, or a batch.
WEBHOOK_PATH = "webhook"
#: What an event would do, without doing it: the same bodies as the webhook path, write keys only.
PREVIEW_PATH = "preview"
_ANY_EVENT_PATHS = frozenset({WEBHOOK_PATH, PREVIEW_PATH})
#: Who a signed webhook request is, for de-duplication: the same for every secret, so rotation keeps it.
WEBHOOK_SCOPE = "webhook"
#: How WRITE_KEYS marks a browser key (public: in a web page).
BROWSER_MARK = ":browser"
#: Top-level batch keys merged into every item (item keys win), per Segment's HTTP API.
_BATCH_DEFAULTS = ("context", "integrations", "sentAt")


class RequestError(Exception):
    """A request-level problem answered with one HTTP error (nothing in the request is delivered)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RawRequest:
    body: str | None
    is_base64_encoded: bool
    headers: Mapping[str, str]  # lower-cased names, as API Gateway HTTP APIs deliver them
    source_ip: str = ""  # API Gateway's requestContext.http.sourceIp


@dataclass(frozen=True)
class Item:
    """One call as received: its position in the request, and its JSON (bounded: see bounded_json)."""

    index: int
    data: Any

    @cached_property
    def problems(self) -> list[tuple[str, str]]:
        """Unusable values and over-deep nesting; an event with any is refused before anything else."""
        return bounded_json.problems(self.data)

    @cached_property
    def size(self) -> int:
        """UTF-8 bytes of the compact JSON, as the SDKs count (an accented letter is 2 bytes, not a
        6-byte `\\u` escape). Only call it once `problems` is empty: it recurses."""
        text = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), default=str)
        return len(text.encode("utf-8", "surrogatepass"))


def decode_body(request: RawRequest, limit: int) -> bytes:
    """Raw bytes of the body, gunzipped with a hard cap: more than `limit` bytes is a 413, never inflated."""
    body = request.body or ""
    try:
        raw = base64.b64decode(body, validate=True) if request.is_base64_encoded else body.encode("utf-8")
    except (binascii.Error, ValueError):
        raise RequestError(400, "invalid_request", "body is not valid base64") from None
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error:
            raise RequestError(400, "invalid_request", "body is not valid gzip") from None
        if inflater.unconsumed_tail:
            raw += b"x"  # more output is pending: the inflated body is over the limit
        elif not inflater.eof:
            raise RequestError(400, "invalid_request", "body is a truncated gzip stream")
        elif inflater.unused_data:
            raise RequestError(400, "invalid_request", "body has bytes after the end of its gzip stream")
    elif encoding not in {"identity", ""}:
        raise RequestError(415, "unsupported_encoding", f"Content-Encoding '{encoding}' is not supported; use gzip")
    if len(raw) > limit:
        raise RequestError(413, "payload_too_large", f"request body is over the {limit}-byte limit")
    return raw


def takes_an_array(path_kind: str) -> bool:
    """Paths whose body may be a bare array of events (it is read as the batch)."""
    return path_kind in BATCH_PATHS or path_kind in _ANY_EVENT_PATHS


def parse_json_object(raw: bytes, batch: bool = False) -> dict[str, Any]:
    """Parse whatever the Content-Type says (browsers send JSON as text/plain), within bounded_json's limits.
    On a batch path a top-level array is the batch itself (some senders post one)."""
    try:
        data = bounded_json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestError(400, "invalid_request", f"body is not valid JSON: {str(exc)[:200]}") from None
    if batch and isinstance(data, list):
        return {"batch": data}
    if not isinstance(data, dict):
        raise RequestError(400, "invalid_request", "body must be a JSON object")
    return data


def header_keys(headers: Mapping[str, str]) -> list[str]:
    """The write key of a Basic user name or a Bearer token, checked before the body is read."""
    return presented_keys(headers, {})


def presented_keys(headers: Mapping[str, str], body: Mapping[str, Any]) -> list[str]:
    """Every write key the caller presented: Basic user name, Bearer token, body `writeKey`."""
    keys = []
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        keys.append(decoded.partition(":")[0].strip())  # empty password, or none at all (legacy)
    elif scheme.lower() == "bearer" and credentials:
        keys.append(credentials)
    if isinstance(body.get("writeKey"), str):
        keys.append(body["writeKey"].strip())
    return [key for key in keys if key]


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the write key that matched (messageIds are unique per key), and whether it is a
    browser key (`<key>:browser` in WRITE_KEYS): public, shipped in a page, so it may do less."""

    key: str
    browser: bool = False


def caller_of(entry: str) -> Caller:
    """A WRITE_KEYS entry: a key, or a key marked `:browser`."""
    if entry.endswith(BROWSER_MARK):
        return Caller(entry[: -len(BROWSER_MARK)], browser=True)
    return Caller(entry)


def authenticate(presented: Iterable[str], accepted: Iterable[str]) -> Caller:
    """The caller whose accepted key matched; every pair is compared in constant time so timing reveals
    nothing."""
    match: Caller | None = None
    for candidate in presented:
        for entry in accepted:
            caller = caller_of(entry)
            if hmac.compare_digest(candidate.encode(), caller.key.encode()):
                match = caller
    if match is None:
        raise RequestError(401, "unauthorized", "missing or invalid write key")
    return match


def signed_by(raw: bytes, signature: str, secrets: Iterable[str]) -> bool:
    """X-Signature as pipelines' webhooks send it: the hex HMAC-SHA1 of the body under a shared secret.
    Every secret is compared, in constant time (several are valid during a rotation)."""
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
        matched |= hmac.compare_digest(expected, signature.strip().lower())
    return matched


def split_items(path_kind: str, body: dict[str, Any], max_event_bytes: int, max_events: int) -> list[Item]:
    """The calls in a request. A batch's top-level context/integrations/sentAt are merged into each item.
    A webhook (or a preview) carries a batch, or one call of any type."""
    if path_kind in _ANY_EVENT_PATHS and not isinstance(body.get("batch"), list):
        return [_item(0, body)]
    if path_kind in BATCH_PATHS or path_kind in _ANY_EVENT_PATHS:
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise RequestError(400, "invalid_request", "batch: must be an array of events")
        if len(batch) > max_events:
            raise RequestError(413, "payload_too_large", f"batch: more than {max_events} events")
        defaults = {key: body[key] for key in _BATCH_DEFAULTS if body.get(key) is not None}
        return [_item(index, _merged(defaults, item)) for index, item in enumerate(batch)]
    implied = SINGLE_CALL_PATHS[path_kind]
    if isinstance(body.get("batch"), list):  # a batch sent where one call is expected: say where it goes
        raise RequestError(400, "invalid_request", f"this body is a batch: post it to /v1/batch, not /v1/{path_kind}")
    item = _item(0, {"type": implied, **body})
    if not item.problems and item.size > max_event_bytes:
        raise RequestError(413, "payload_too_large", f"event is over the {max_event_bytes}-byte limit")
    if item.data.get("type") != implied:
        raise RequestError(400, "invalid_request", f"type: '{item.data.get('type')}' does not match /v1/{path_kind}")
    return [item]


def _merged(defaults: dict[str, Any], item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    merged = {**defaults, **item}
    for key in ("context", "integrations"):
        if isinstance(defaults.get(key), dict) and isinstance(item.get(key), dict):
            merged[key] = {**defaults[key], **item[key]}
    return merged


def _item(index: int, data: Any) -> Item:
    if isinstance(data, dict):
        data.pop("writeKey", None)  # a credential: never carried further
    return Item(index=index, data=data)
