"""Pydantic models of the inbound Segment / Customer.io Data Pipelines spec (one model per call type)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from intercom_destination.intake.money import is_money_like, money_problems
from intercom_destination.intake.timestamps import FUTURE_TOLERANCE, parse_timestamp, plausible


def _optional_id(value: object) -> str | None:
    """SDKs stringify numeric ids; JSON null and "" both mean absent."""
    if value is None or isinstance(value, bool):
        return None if value is None else _reject("must be a string or a number")
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        if value.strip() in {".", ".."}:  # would turn into another URL path at Intercom
            return _reject("must not be '.' or '..'")
        return value.strip() or None
    return _reject("must be a string or a number")


def _reject(message: str) -> Any:
    raise ValueError(message)


def _object(value: object) -> dict[str, Any]:
    """`traits`, `properties`, `context` and `integrations` are objects; null means empty."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return _reject("must be an object")


# `json_schema_input_type`: what the API document (/openapi.json) says callers may send.
OptionalId = Annotated[str | None, BeforeValidator(_optional_id, json_schema_input_type=str | int | float | None)]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_object, json_schema_input_type=dict[str, Any] | None)]
Timestamp = Annotated[
    datetime | None, BeforeValidator(parse_timestamp, json_schema_input_type=datetime | int | float | None)
]

CallType = Literal["identify", "track", "page", "screen", "group", "alias"]


class BaseCall(BaseModel):
    """Fields common to every call. Unknown top-level keys are ignored, never rejected."""

    # Built on first use, not at import: a cold start validates only the types its first request holds.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    type: CallType
    messageId: OptionalId = Field(default=None, max_length=100)
    userId: OptionalId = None
    anonymousId: OptionalId = None
    timestamp: Timestamp = None
    originalTimestamp: Timestamp = None
    sentAt: Timestamp = None
    context: JsonObject = Field(default_factory=dict)
    integrations: JsonObject = Field(default_factory=dict)

    def occurred_at(self, received_at: datetime) -> datetime:
        """When it happened, by our clock, not the device's: the device's time (`timestamp`, else
        `originalTimestamp`) corrected for its clock's skew when `sentAt` (the same device clock, at send)
        says it: receivedAt − (sentAt − t), Segment's formula. Never later than receipt + FUTURE_TOLERANCE
        (a device in 2099, or one whose skew was not told, is not the future: it is taken as the receipt),
        never before 1970 (a clock at zero: the next best time). Without any time: the receipt."""
        moment = plausible(self.timestamp) or plausible(self.originalTimestamp)
        if moment is None:
            return received_at
        if self.sentAt is not None:
            with contextlib.suppress(OverflowError):  # a clock off by millennia: the correction leaves datetime
                moment = plausible(received_at - (self.sentAt - moment)) or moment
        return moment if moment <= received_at + FUTURE_TOLERANCE else received_at

    @property
    def context_traits(self) -> dict[str, Any]:
        traits = self.context.get("traits")
        return traits if isinstance(traits, dict) else {}


class _NeedsId(BaseCall):
    @model_validator(mode="after")
    def _has_id(self) -> _NeedsId:
        if self.userId is None and self.anonymousId is None:
            raise ValueError("userId or anonymousId is required")
        return self


class Identify(_NeedsId):
    type: Literal["identify"]
    traits: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _traits_fallback(self) -> Identify:
        # rudder-sdk-python sends identify traits only in context.traits.
        if not self.traits and self.context_traits:
            object.__setattr__(self, "traits", dict(self.context_traits))
        return self


class Track(_NeedsId):
    type: Literal["track"]
    event: str = Field(min_length=1, max_length=255)
    properties: JsonObject = Field(default_factory=dict)

    @field_validator("event", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class Page(_NeedsId):
    type: Literal["page"]
    name: str | None = None
    category: str | None = None
    properties: JsonObject = Field(default_factory=dict)


class Screen(_NeedsId):
    type: Literal["screen"]
    name: str | None = None
    category: str | None = None
    properties: JsonObject = Field(default_factory=dict)


class Group(BaseCall):
    """A group needs only groupId: PY-CIO and the Node SDKs send groups without a user."""

    type: Literal["group"]
    groupId: Annotated[str, BeforeValidator(_optional_id, json_schema_input_type=str | int | float)]
    traits: JsonObject = Field(default_factory=dict)


class Alias(BaseCall):
    type: Literal["alias"]
    userId: Annotated[str, BeforeValidator(_optional_id, json_schema_input_type=str | int | float)]
    previousId: Annotated[str, BeforeValidator(_optional_id, json_schema_input_type=str | int | float)]


Call = Annotated[Identify | Track | Page | Screen | Group | Alias, Field(discriminator="type")]


class Batch(BaseModel):
    """The body of `/v1/batch`, `/v1/b` and `/v1/import`, as the API document shows it. The request is not
    parsed with this model: each event is validated on its own, so one bad event never refuses the others."""

    model_config = ConfigDict(defer_build=True)  # for the API document only

    batch: list[Call] = Field(description="the calls; `context`, `integrations` and `sentAt` below fill each one's")
    context: JsonObject = Field(default_factory=dict)
    integrations: JsonObject = Field(default_factory=dict)
    sentAt: Timestamp = None
    writeKey: str | None = Field(default=None, description="the write key, when not sent as Basic user or Bearer")


class FieldError(BaseModel):
    """One validation problem, reported to the caller by field path."""

    field: str
    message: str


def parse_call(data: dict[str, Any]) -> Identify | Track | Page | Screen | Group | Alias:
    """Validate one call with the powertools parser; raises InvalidCallError naming each bad field."""
    try:
        # `Call` is a discriminated union, not a class: the parser accepts it, its type hints don't.
        call: Identify | Track | Page | Screen | Group | Alias = parse(event=data, model=Call)  # type: ignore[call-overload]
    except ValidationError as exc:
        raise InvalidCallError(_field_errors(exc)) from None
    revenue = call.properties.get("revenue") if isinstance(call, Track) else None
    if is_money_like(revenue) and (problems := money_problems(revenue)):  # Intercom money, malformed
        raise InvalidCallError([FieldError(field=f"properties.revenue.{part}", message=m) for part, m in problems])
    return call


class InvalidCallError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        if error["type"] in {"union_tag_not_found", "union_tag_invalid"}:
            loc = ["type"]
            message = "must be one of identify, track, page, screen, group, alias"
        else:
            loc = loc[1:] if loc and loc[0] in CallType.__args__ else loc  # type: ignore[attr-defined]
            message = str(error["msg"]).removeprefix("Value error, ")
        errors.append(FieldError(field=".".join(loc) or "(event)", message=message))
    return errors
