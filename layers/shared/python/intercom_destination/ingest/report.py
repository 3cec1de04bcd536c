"""The answer to a request: what happened to each event, as the status, body and metric counts SDKs and
the handler read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from intercom_destination.config.secrets import MisconfiguredParameterError
from intercom_destination.intake.answers import Accepted, EventsRefused, ItemError
from intercom_destination.intake.inbound import RequestError

logger = Logger(child=True)
#: Seconds an SDK should wait before resending what could not be made durable (SQS or DynamoDB outage), or
#: what a browser key sent from an address over its rate (429).
RETRY_AFTER_SECONDS = 5
#: The code of an answer that needs the operator: a parameter missing or unreadable, an invalid actions file.
MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # `<type>.<outcome>` → events, for metrics


@dataclass
class Report:
    """What happened to each event of a request; `counts` keys are `<type>.<outcome>` for metrics."""

    counts: Counter[str] = field(default_factory=Counter)  # per action fired (an event may fire several)
    rejected: list[ItemError] = field(default_factory=list)  # invalid: the caller must fix the event
    failed: list[ItemError] = field(default_factory=list)  # not accepted: the caller must resend

    def answer(self) -> Answer:
        if self.failed:
            failed = list({error.index: error for error in self.failed}.values())  # once per event, not per action
            errors = sorted(failed + self.rejected, key=by_index)
            message = f"{len(failed)} event(s) could not be accepted; retry the request"
            return Answer(
                503,
                error_body("not_accepted", message, errors),
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
                dict(self.counts),
            )
        if self.rejected:
            events = len({error.index for error in self.rejected})  # an event may have several bad fields
            message = f"{events} event(s) rejected; the other events were accepted"
            errors = sorted(self.rejected, key=by_index)
            return Answer(400, error_body("validation_failed", message, errors), counts=dict(self.counts))
        return Answer(200, Accepted().model_dump(mode="json"), counts=dict(self.counts))


def misconfigured(exc: MisconfiguredParameterError) -> RequestError:
    """Not an outage to wait out: the `misconfigured` answer is counted as a metric, which raises an alarm."""
    logger.error(
        "the destination is misconfigured; fix the parameter and its name in the stack", extra={"error": str(exc)}
    )
    return RequestError(503, MISCONFIGURED, f"the destination is misconfigured ({exc}); its operator must fix it")


def by_index(error: ItemError) -> int:
    return error.index


def error_body(code: str, message: str, errors: list[ItemError]) -> dict[str, Any]:
    return EventsRefused(code=code, message=message, errors=errors).model_dump(mode="json")
