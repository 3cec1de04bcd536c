"""Instant stand-ins for Intercom and AWS, so a benchmark measures the handler's own CPU: every byte of our
code, urllib3's request handling and botocore's serialising and parsing still run; only the network and
the servers are gone.

- `InstantIntercom`: a urllib3 pool whose `request` answers at once, in the shapes Intercom answers.
- `instant_aws()`: botocore's `before-send` hook answers every DynamoDB, SQS and SSM call (after botocore
  built and signed it) with an empty success, so parsing runs too; only the person records' links are
  remembered and read back (a link is written once per name, not on every request).
- `instant_ingest()`: the real ingest handler, in a new environment, against both.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import boto3
import urllib3
from botocore.awsrequest import AWSResponse

from local.adapter import LambdaContext, load_handler, to_event

ROOT = Path(__file__).resolve().parents[1]

_HEADERS = {"Content-Type": "application/json", "X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9000"}


class InstantIntercom:
    """Answers the calls the destination makes, with ids derived from what was sent."""

    def __init__(self) -> None:
        self.calls = 0

    def request(self, method: str, url: str, body: bytes | None = None, **_: Any) -> urllib3.HTTPResponse:
        self.calls += 1
        path = url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
        sent = json.loads(body) if body else {}
        status, answer = self._answer(method, "/" + path, sent)
        data = b"" if answer is None else json.dumps(answer).encode()
        return urllib3.HTTPResponse(body=io.BytesIO(data), status=status, headers=_HEADERS, preload_content=True)

    def _answer(self, method: str, path: str, sent: dict[str, Any]) -> tuple[int, Any]:
        if path == "/events":
            return 202, None
        if path == "/companies":
            return 200, {"type": "company", "id": f"co-{sent.get('company_id')}"}
        if path == "/data_attributes":
            return 200, {"data": []}
        if re.fullmatch(r"/contacts/[^/]+/companies", path):
            return 200, {"type": "company"}
        if path == "/contacts/search":
            return 200, {"data": []}
        if method == "POST" and path == "/contacts":
            return 200, _contact(sent.get("external_id") or sent.get("email", "lead"), sent)
        return 200, _contact(path.rsplit("/", 1)[-1], sent)  # PUT/GET /contacts/{id}, find_by_external_id


def _contact(key: str, sent: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "contact",
        "id": f"c-{key}",
        "role": sent.get("role", "user"),
        "external_id": sent.get("external_id"),
    }


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


_ANSWERS: dict[str, dict[str, Any]] = {
    "BatchWriteItem": {"UnprocessedItems": {}},
    "BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
}


#: Calls answered, by operation (what a request costs in AWS requests).
AWS_CALLS: Counter[str] = Counter()
#: Person records' links to their primary record, as written (a link is written once, then read back).
_LINKS: dict[str, str] = {}


def _answer(request: Any, **_: Any) -> AWSResponse:
    operation = request.headers.get("X-Amz-Target", b"").decode().rpartition(".")[2]
    AWS_CALLS[operation] += 1
    if operation == "UpdateItem" and b"linked = :p" in request.body:
        sent = json.loads(request.body)
        _LINKS[sent["Key"]["id"]["S"]] = sent["ExpressionAttributeValues"][":p"]["S"]
    if operation == "BatchGetItem":
        (table, wanted), *_ = json.loads(request.body)["RequestItems"].items()
        found = [
            {"id": key["id"], "linked": {"S": _LINKS[key["id"]["S"]]}}
            for key in wanted["Keys"]
            if key["id"]["S"] in _LINKS
        ]
        body: dict[str, Any] = {"Responses": {table: found}, "UnprocessedKeys": {}}
    elif operation == "BatchExecuteStatement":  # every claim's INSERT succeeds: each event is new
        body = {"Responses": [{"TableName": "idempotency"} for _ in json.loads(request.body)["Statements"]]}
    elif operation == "SendMessageBatch":
        entries = json.loads(request.body)["Entries"]
        body = {"Successful": [{"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": ""} for e in entries]}
    else:
        body = _ANSWERS.get(operation, {})
    headers: Any = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, 200, headers, _Raw(json.dumps(body).encode()))


@contextmanager
def instant_aws() -> Iterator[None]:
    """Every client of boto3's default session (the destination's) answered at once."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events  # clients made from now on copy these handlers
    for service in ("dynamodb", "sqs", "ssm"):
        events.register(f"before-send.{service}", cast(Any, _answer))
    try:
        yield
    finally:
        for service in ("dynamodb", "sqs", "ssm"):
            events.unregister(f"before-send.{service}", cast(Any, _answer))


def lambda_env() -> dict[str, str]:
    return {
        "AWS_LAMBDA_FUNCTION_NAME": "ingest",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "POWERTOOLS_SERVICE_NAME": "intercom-destination",
        "POWERTOOLS_METRICS_NAMESPACE": "IntercomDestination",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # the tables, not a metrics record per request
        "WRITE_KEYS": "bench-key",
        "INTERCOM_ACCESS_TOKEN": "bench-token",
        "INTERCOM_API_BASE": "https://intercom.invalid",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/dead-letters.fifo",
        "PARKING_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/parking.fifo",
        "IDEMPOTENCY_TABLE": "idempotency",
    }


def api_request(events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"batch": events}).encode()
    return to_event("POST", "/v1/batch", {"authorization": "Bearer bench-key", "host": "bench"}, body, "127.0.0.1")


@contextmanager
def instant_ingest() -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The real ingest handler in a new environment, against instant Intercom and AWS stand-ins."""
    from intercom_destination import wiring  # after the environment is set: its loggers read it

    real_pool = wiring.new_pool
    wiring.new_pool = lambda _size: InstantIntercom()  # type: ignore[assignment,return-value]
    wiring.reset()
    try:
        with instant_aws():
            handler = load_handler(ROOT / "functions" / "ingest" / "app.py", "ingest_bench")
            yield lambda event: handler(event, LambdaContext("ingest", 12))
    finally:
        wiring.new_pool = real_pool
        wiring.reset()
