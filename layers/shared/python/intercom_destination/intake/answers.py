"""The JSON bodies the ingest endpoint answers with. Answers are built from these types and the API
document (`/openapi.json`) is generated from them, so the document cannot drift from what SDKs receive."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True)
class ItemError:
    """One event the caller should know about, by position (batch index) and messageId."""

    index: int = Field(description="position of the event in the batch (0 for a single call)")
    messageId: str | None = Field(description="the event's messageId, when it had a usable one")
    field: str = Field(description="the event's field at fault, as a dotted path; `(event)` for the whole event")
    code: Literal["invalid_event", "not_accepted"] = Field(
        description="`invalid_event`: fix the event, resending it as is fails again; `not_accepted`: resend it"
    )
    message: str = Field(description="what is wrong, for a person")


class _Answer(BaseModel):
    """An answer's shape: built when first used (most only by the API document), not on a cold start."""

    model_config = ConfigDict(defer_build=True)


class Accepted(_Answer):
    """Every event is delivered to Intercom, queued for replay, or was a duplicate/stale/skipped one."""

    success: Literal[True] = True


class Refused(_Answer):
    """Nothing in the request was accepted (bad auth, unreadable body, our own outage): fix it or resend it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    success: Literal[False] = False
    code: str = Field(description="machine-readable reason, e.g. `unauthorized`, `invalid_request`")
    message: str


class EventsRefused(Refused):
    """Some events were refused (400: fix them; the others were accepted) or not accepted (503: resend)."""

    errors: list[ItemError] = Field(description="one entry per refused field or event, by batch index")


class PlannedCall(_Answer):
    """One Intercom request an action would send; `{...}` stands for ids Intercom assigns."""

    method: str
    path: str
    body: dict[str, Any]
    note: str | None = Field(default=None, description="when it is sent, or what else may follow")


class PreviewedAction(_Answer):
    name: str
    type: str = Field(description="identify_contact, identify_company or track_event")
    requests: list[PlannedCall] | None = Field(default=None, description="in order, for a first-seen contact")
    skipped: str | None = Field(default=None, description="why the action sends nothing for this event")
    error: str | None = Field(default=None, description="the mapping failed: the event would be parked")


class PreviewedEvent(_Answer):
    index: int
    messageId: str | None
    type: str
    actions: list[PreviewedAction] = Field(description="the actions the event fires, in the actions file's order")
    skipped: str | None = Field(default=None, description="why no action fires")
    error: str | None = Field(default=None, description="the event could not be read: it would be parked")


class Preview(_Answer):
    """What each event would do; nothing was sent, queued or de-duplicated."""

    events: list[PreviewedEvent] = Field(description="the valid events, by batch index")
    errors: list[ItemError] = Field(description="the invalid events: what would be answered 400")


#: How callers authenticate, as the API document names it (schemes in api_doc.py).
SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}, {"writeKeyBearer": []}]
_REFUSED: dict[str, Any] = {"application/json": {"model": Refused}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before resending", "schema": {"type": "integer"}}}
#: Every answer of the paths that take calls (`/v1/batch`, `/v1/identify`, ...), for the API document.
INGEST_ANSWERS: dict[int, Any] = {
    200: {"description": "every event accepted", "content": {"application/json": {"model": Accepted}}},
    400: {
        "description": "`validation_failed`: the events listed were refused, the others accepted; "
        "`invalid_request`: the body is unreadable, nothing accepted",
        "content": {"application/json": {"model": EventsRefused | Refused}},
    },
    401: {"description": "`unauthorized`: missing or unknown write key", "content": _REFUSED},
    404: {"description": "`not_found`: no such path", "content": _REFUSED},
    413: {"description": "`payload_too_large`: body, event or batch over its limit", "content": _REFUSED},
    415: {"description": "`unsupported_encoding`: a Content-Encoding other than gzip", "content": _REFUSED},
    429: {
        "description": "`rate_limited`: a browser key's source address sent more than its rate; resend after "
        "Retry-After",
        "headers": _RETRY_AFTER,
        "content": _REFUSED,
    },
    503: {
        "description": "`not_accepted`: the events listed could not be made durable; `unavailable`: write keys "
        "or actions unreadable; `misconfigured`: an SSM parameter is missing or unreadable, or the actions "
        "file is invalid (the operator must act). Resend after Retry-After (events already accepted are "
        "de-duplicated by messageId).",
        "headers": _RETRY_AFTER,
        "content": {"application/json": {"model": EventsRefused | Refused}},
    },
}
#: Every answer of `/v1/preview`: the ingest answers but 200 (its own body) and 400 (invalid events are listed).
PREVIEW_ANSWERS: dict[int, Any] = {
    **{status: answer for status, answer in INGEST_ANSWERS.items() if status not in (200, 400)},
    200: {"description": "what each event would do", "content": {"application/json": {"model": Preview}}},
    400: {"description": "`invalid_request`: the body is unreadable", "content": _REFUSED},
    403: {"description": "`forbidden`: a browser key may not preview; use a server key", "content": _REFUSED},
}
