"""Analytics calls as the tests send them, built in one place: each module names only its own defaults
(message ids, traits). A None id or field is left out, as SDKs leave out what they do not know."""

from __future__ import annotations

from typing import Any


def call(kind: str, message_id: str | None = None, **fields: Any) -> dict[str, Any]:
    event = {"type": kind, **{name: value for name, value in fields.items() if value is not None}}
    return event | ({"messageId": message_id} if message_id is not None else {})


def identify(user: str | None, message_id: str | None = None, **traits: Any) -> dict[str, Any]:
    return call("identify", message_id, userId=user, traits=traits)


def track(user: str | None, name: str, message_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return call("track", message_id, userId=user, event=name, **fields)


def group(user: str | None, company: str, message_id: str | None = None, **traits: Any) -> dict[str, Any]:
    return call("group", message_id, userId=user, groupId=company, **({"traits": traits} if traits else {}))


def alias(previous: str, user: str, message_id: str | None = None) -> dict[str, Any]:
    return call("alias", message_id, previousId=previous, userId=user)


def sqs_record(message_id: str, receipt: str, body: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source hands it to a function (one of the event's `Records`)."""
    return {
        "messageId": message_id, "receiptHandle": receipt, "body": body, "attributes": {},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:backfill", "awsRegion": "us-east-1",
    }  # fmt: skip
