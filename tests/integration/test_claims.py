"""Idempotency claims against DynamoDB's wire protocol (moto): claims go 25 to a batch of PartiQL INSERTs,
one that finds a record is decided by a conditional PutItem, and one completion record per request tells
a resend whether the claim it found is done."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from intercom_destination.durability.claims import Claim, Dedupe

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


def request() -> str:
    return uuid.uuid4().hex


def table(stack: Stack) -> Any:
    return boto3.client("dynamodb", endpoint_url=stack.resources.endpoint)


def record(stack: Stack, key: str) -> dict[str, Any]:
    item: dict[str, Any] = table(stack).get_item(
        TableName=stack.resources.table, Key={"id": {"S": f"intercom-destination#event#{key}"}}
    )["Item"]
    return item


@pytest.mark.parametrize(("count", "batches"), [(1, 1), (25, 1), (100, 4), (150, 6)])
def test_a_claim_is_new_then_busy_then_done_and_free_again_once_released(
    stack: Stack, count: int, batches: int
) -> None:
    calls: Counter[str] = Counter()
    claims = dedupe(stack, Clock(), calls)
    tags_of = keys(count)
    first_request = request()

    assert set(claims.claim(tags_of, first_request).values()) == {Claim.NEW}
    assert calls == {"BatchExecuteStatement": batches}
    calls.clear()
    assert set(claims.claim(tags_of, request()).values()) == {Claim.BUSY}  # another request is delivering them
    assert calls["PutItem"] == count  # each INSERT failed (DuplicateItem); the PutItem's condition says why
    assert calls["GetItem"] == 1  # the claiming request's completion, read once for all its events

    first, *rest = tags_of
    assert claims.release([first]) == []
    calls.clear()
    assert claims.complete(first_request) == []
    assert calls == {"PutItem": 1}  # one write for the whole request
    again = claims.claim(tags_of, request())
    assert again[first] is Claim.NEW
    assert {again[key] for key in rest} <= {Claim.DONE}


@pytest.mark.parametrize("count", [1, 101])
def test_a_claim_whose_request_died_frees_its_event_after_the_claim_time(stack: Stack, count: int) -> None:
    clock = Clock()
    claims = dedupe(stack, clock)
    tags_of = keys(count)
    crashed, resend = request(), request()
    assert set(claims.claim(tags_of, crashed).values()) == {Claim.NEW}
    clock.now += CLAIM_SECONDS - 1
    assert set(claims.claim(tags_of, resend).values()) == {Claim.BUSY}
    clock.now += 2
    assert set(claims.claim(tags_of, resend).values()) == {Claim.NEW}  # taken over
    claims.complete(crashed)  # a request thought dead finishing late does not complete the resend's claims
    assert set(claims.claim(tags_of, request()).values()) == {Claim.BUSY}
    claims.complete(resend)
    assert set(claims.claim(tags_of, request()).values()) == {Claim.DONE}


def test_an_event_given_back_whose_release_failed_is_not_done_and_is_free_after_the_claim_time(stack: Stack) -> None:
    clock = Clock()
    claims = dedupe(stack, clock)
    tags_of = keys(3)
    given_back, *delivered = tags_of
    first = request()
    claims.claim(tags_of, first)
    claims.complete(first, unreleased=[given_back])
    assert claims.claim(tags_of, request()) == {given_back: Claim.BUSY, **dict.fromkeys(delivered, Claim.DONE)}
    clock.now += CLAIM_SECONDS + 1
    assert claims.claim(tags_of, request()) == {given_back: Claim.NEW, **dict.fromkeys(delivered, Claim.DONE)}


def test_two_resends_of_a_crashed_request_take_it_over_once(stack: Stack) -> None:
    clock = Clock()
    claims = dedupe(stack, clock)
    tags_of = keys(20)
    claims.claim(tags_of, request())
    clock.now += CLAIM_SECONDS + 1
    with ThreadPoolExecutor(2) as pool:
        one, two = pool.map(lambda _: claims.claim(tags_of, request()), range(2))
    for key in tags_of:
        assert sorted([one[key], two[key]]) == sorted([Claim.NEW, Claim.BUSY])


def test_a_record_past_its_window_that_ttl_has_not_deleted_yet_is_claimed_anew(stack: Stack) -> None:
    """TTL deletes expired items up to days late: the INSERT fails on the old record, the PutItem's
    condition sees that it expired."""
    clock = Clock()
    claims = dedupe(stack, clock)
    tags_of = keys(2)
    first = request()
    claims.claim(tags_of, first)
    claims.complete(first)
    clock.now += WINDOW + 1
    assert set(claims.claim(tags_of, request()).values()) == {Claim.NEW}


def test_records_written_before_completions_existed_keep_their_meaning(stack: Stack) -> None:
    """A table written by the previous version: events completed one by one, and claims naming no request."""
    clock = Clock()
    claims = dedupe(stack, clock)
    done, claimed = keys(2)
    expiration = {"N": str(int(clock.now) + WINDOW)}
    for key, status in ((done, "COMPLETED"), (claimed, "INPROGRESS")):
        item = {"id": {"S": f"intercom-destination#event#{key}"}, "status": {"S": status}, "expiration": expiration}
        item["in_progress_expiration"] = {"N": str(int((clock.now + CLAIM_SECONDS) * 1000))}
        table(stack).put_item(TableName=stack.resources.table, Item=item)
    tags_of: dict[str, list[str]] = {done: [], claimed: []}
    assert claims.claim(tags_of, request()) == {done: Claim.DONE, claimed: Claim.BUSY}
    clock.now += CLAIM_SECONDS + 1
    assert claims.claim(tags_of, request()) == {done: Claim.DONE, claimed: Claim.NEW}


@pytest.mark.parametrize("count", [1, 101])
def test_every_record_names_its_person_by_tags_and_a_forget_deletes_only_theirs(stack: Stack, count: int) -> None:
    claims = dedupe(stack)
    tags_of = keys(count)
    first_request = request()
    claims.claim(tags_of, first_request)
    first = next(iter(tags_of))
    (tag,) = tags_of[first]
    claims.complete(first_request)
    assert (record(stack, first)["status"]["S"], record(stack, first)["people"]["SS"]) == ("INPROGRESS", [tag])

    assert claims.forget({tag}) == 1  # theirs, not the other events' of this test
    assert claims.claim(tags_of, request())[first] is Claim.NEW
    assert claims.forget({tag, "tag-of-nobody"}) == 1


def test_an_event_of_a_forgotten_person_is_done_without_their_tags(stack: Stack) -> None:
    claims = dedupe(stack)
    tags_of = keys(2)
    forgotten, other = tags_of
    first = request()
    claims.claim(tags_of, first)
    assert claims.complete(first, untagged=[forgotten]) == []
    assert "people" not in record(stack, forgotten)
    assert "people" in record(stack, other)
    assert set(claims.claim(tags_of, request()).values()) == {Claim.DONE}


class Throttled:
    """The real client, but DynamoDB refuses the writes of some keys (throttled past botocore's retries): their
    INSERTs fail in the batch, and so does the PutItem each is tried again with."""

    def __init__(self, client: Any, refused: set[str]) -> None:
        self._client = client
        self._refused = refused

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_execute_statement(self, Statements: list[dict[str, Any]]) -> Any:
        kept = [statement for statement in Statements if self._key(statement["Parameters"][0]) not in self._refused]
        answers = iter(self._client.batch_execute_statement(Statements=kept)["Responses"] if kept else [])
        refusal = {"Error": {"Code": "ProvisionedThroughputExceeded", "Message": "slow down"}}
        return {
            "Responses": [
                refusal if self._key(statement["Parameters"][0]) in self._refused else next(answers)
                for statement in Statements
            ]
        }

    def put_item(self, **request: Any) -> Any:
        if self._key(request["Item"]["id"]) in self._refused:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "PutItem")  # type: ignore[arg-type]
        return self._client.put_item(**request)

    @staticmethod
    def _key(record_id: dict[str, str]) -> str:
        return record_id["S"].removeprefix("intercom-destination#event#")


def test_a_claim_dynamodb_refuses_makes_only_its_event_busy_and_all_refused_is_an_outage(stack: Stack) -> None:
    tags_of = keys(3)
    first, *rest = tags_of
    claims = dedupe(stack, wrap=lambda client: Throttled(client, {first}))
    assert claims.claim(tags_of, request()) == {first: Claim.BUSY, **dict.fromkeys(rest, Claim.NEW)}

    everything = dedupe(stack, wrap=lambda client: Throttled(client, set(tags_of)))
    with pytest.raises(ClientError):
        everything.claim(tags_of, request())


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
    first, second = request(), request()
    assert claims.claim({done: tags_of[done]}, first) == {done: Claim.NEW}
    assert claims.claim({busy: tags_of[busy]}, second) == {busy: Claim.NEW}
    claims.complete(first)
    assert claims.claim(tags_of, request()) == {done: Claim.DONE, busy: Claim.BUSY}


class NoPartiQL:
    """The real client, in a role without dynamodb:PartiQLInsert (a template edited by hand)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_execute_statement(self, **_: Any) -> Any:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized: dynamodb:PartiQLInsert"}}
        raise ClientError(error, "BatchExecuteStatement")  # type: ignore[arg-type]


def test_a_refused_batch_of_inserts_is_claimed_one_by_one(stack: Stack) -> None:
    calls: Counter[str] = Counter()
    claims = dedupe(stack, calls=calls, wrap=NoPartiQL)
    tags_of = keys(30)
    first = request()
    assert set(claims.claim(tags_of, first).values()) == {Claim.NEW}
    assert calls == {"PutItem": 30}
    claims.complete(first)
    assert set(claims.claim(tags_of, request()).values()) == {Claim.DONE}
