"""Idempotency claims against DynamoDB's wire protocol (moto): the same rules whether a request's events
are claimed by single conditional PutItems (a few events: half the write units) or by transactions."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from intercom_destination.durability.claims import SINGLE_PUTS, Claim, Dedupe

from local.stack import Stack

WINDOW = 3600
CLAIM_SECONDS = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


def dedupe(
    stack: Stack,
    clock: Callable[[], float] | None = None,
    calls: Counter[str] | None = None,
    wrap: Callable[[Any], Any] = lambda client: client,
) -> Dedupe:
    """Claims against the embedded DynamoDB, counting the calls made; `wrap` stands between, if given."""
    client = boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)
    if calls is not None:
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    return Dedupe(wrap(client), stack.resources.table, WINDOW, CLAIM_SECONDS, ThreadPoolExecutor(4), clock or Clock())


def keys(count: int) -> dict[str, list[str]]:
    run = uuid.uuid4().hex[:8]
    return {f"scope:{run}-{n}": [f"tag-{run}-{n}"] for n in range(count)}


@pytest.mark.parametrize(
    ("count", "call"),
    [(1, "PutItem"), (SINGLE_PUTS, "PutItem"), (SINGLE_PUTS + 1, "TransactWriteItems"), (150, "TransactWriteItems")],
)
def test_a_claim_is_new_then_busy_then_done_and_free_again_once_released(stack: Stack, count: int, call: str) -> None:
    calls: Counter[str] = Counter()
    claims = dedupe(stack, Clock(), calls)
    tags_of = keys(count)

    assert set(claims.claim(tags_of).values()) == {Claim.NEW}
    assert calls[call] == (count if call == "PutItem" else -(-count // 100))
    assert set(calls) == {call}
    assert set(claims.claim(tags_of).values()) == {Claim.BUSY}  # another request is delivering them

    first, *rest = tags_of
    assert claims.complete(dict.fromkeys(rest, "delivered"), tags_of) == []
    assert claims.release([first]) == []
    again = claims.claim(tags_of)
    assert again[first] is Claim.NEW
    assert {again[key] for key in rest} <= {Claim.DONE}


@pytest.mark.parametrize("count", [1, SINGLE_PUTS + 1])
def test_a_claim_whose_request_died_frees_its_event_after_the_claim_time(stack: Stack, count: int) -> None:
    clock = Clock()
    claims = dedupe(stack, clock)
    tags_of = keys(count)
    assert set(claims.claim(tags_of).values()) == {Claim.NEW}
    clock.now += CLAIM_SECONDS - 1
    assert set(claims.claim(tags_of).values()) == {Claim.BUSY}
    clock.now += 2
    assert set(claims.claim(tags_of).values()) == {Claim.NEW}


@pytest.mark.parametrize("count", [1, SINGLE_PUTS + 1])
def test_every_record_names_its_person_by_tags_and_a_forget_deletes_only_theirs(stack: Stack, count: int) -> None:
    claims = dedupe(stack)
    tags_of = keys(count)
    claims.claim(tags_of)
    first = next(iter(tags_of))
    (tag,) = tags_of[first]
    claims.complete({first: "delivered"}, tags_of)
    table = boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)
    record: dict[str, Any] = table.get_item(
        TableName=stack.resources.table, Key={"id": {"S": f"intercom-destination#event#{first}"}}
    )["Item"]
    assert (record["status"]["S"], record["people"]["SS"]) == ("COMPLETED", [tag])

    assert claims.forget({tag}) == 1  # theirs, not the other events' of this test
    assert claims.claim(tags_of)[first] is Claim.NEW
    assert claims.forget({tag, "tag-of-nobody"}) == 1


class Throttled:
    """The real client, but DynamoDB refuses the writes of some keys (throttled past botocore's retries)."""

    def __init__(self, client: Any, refused: set[str]) -> None:
        self._client = client
        self._refused = refused

    def put_item(self, **request: Any) -> Any:
        if request["Item"]["id"]["S"].removeprefix("intercom-destination#event#") in self._refused:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "PutItem")  # type: ignore[arg-type]
        return self._client.put_item(**request)


def test_a_claim_dynamodb_refuses_makes_only_its_event_busy_and_all_refused_is_an_outage(stack: Stack) -> None:
    tags_of = keys(3)
    first, *rest = tags_of
    claims = dedupe(stack, wrap=lambda client: Throttled(client, {first}))
    assert claims.claim(tags_of) == {first: Claim.BUSY, **dict.fromkeys(rest, Claim.NEW)}

    everything = dedupe(stack, wrap=lambda client: Throttled(client, set(tags_of)))
    with pytest.raises(ClientError):
        everything.claim(tags_of)


class OldSdk:
    """The real client, as a botocore from before mid-2023 answers: a failed PutItem condition without the
    record (the parameter asking for it was not sent)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **request: Any) -> Any:
        try:
            return self._client.put_item(**request)
        except ClientError as exc:
            exc.response.pop("Item", None)  # type: ignore[typeddict-item]
            raise


def test_a_resend_is_recognised_even_when_the_sdk_does_not_return_the_record(stack: Stack) -> None:
    claims = dedupe(stack, wrap=OldSdk)
    tags_of = keys(2)
    done, busy = tags_of
    assert set(claims.claim(tags_of).values()) == {Claim.NEW}
    claims.complete({done: "delivered"}, tags_of)
    assert claims.claim(tags_of) == {done: Claim.DONE, busy: Claim.BUSY}
