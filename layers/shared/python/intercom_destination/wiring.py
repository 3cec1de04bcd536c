"""Builds the long-lived objects once per warm function: settings, the urllib3 pool, AWS clients, caches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.config import Config
from urllib3.util import Timeout

from intercom_destination.actions_source import ActionsSource
from intercom_destination.config import secrets
from intercom_destination.config.secrets import intercom_token, webhook_secrets, write_keys
from intercom_destination.config.settings import Settings, get_settings
from intercom_destination.delivery.deliverer import Deliverer
from intercom_destination.delivery.identity import IdentityCache
from intercom_destination.durability.claims import Dedupe
from intercom_destination.durability.people import People
from intercom_destination.durability.queue import Queue
from intercom_destination.durability.record_sync import RecordSync
from intercom_destination.ingest.service import Ingest
from intercom_destination.intake.inbound import Caller, caller_of
from intercom_destination.intercom.attributes import AttributeRegistry
from intercom_destination.intercom.calls import Call
from intercom_destination.intercom.client import IntercomClient, new_pool
from intercom_destination.intercom.errors import RetryableError
from intercom_destination.intercom.rate_limit import RateLimitState

if TYPE_CHECKING:  # imported where built: the ingest function's cold start never loads the others' code
    from intercom_destination.backfill.checkpoints import Checkpoints
    from intercom_destination.backfill.fleet import Fleet
    from intercom_destination.backfill.runner import Backfill
    from intercom_destination.forget.service import Forgetter
    from intercom_destination.replay.redrive import Redrive

#: AWS calls sit on the request path: fail fast and let the caller's retry (503) do the rest (3 attempts in
#: all: `total_max_attempts` counts the first, `max_attempts` would count retries only). The ingest request
#: answers by its budget whatever these add up to (ingest.Ingest.handle). One
#: connection per delivery thread at most (the settings cap those at 64). Our requests are built by our
#: own code and tests, so botocore's client-side validation of every parameter (a third of the CPU of a
#: batch's durability work, measured) is skipped; DynamoDB still validates them. The regional endpoint
#: (not the account-based one, which costs botocore expressions over every item of a batch) is chosen by
#: AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled in the template, not here: the runtime's botocore may predate the
#: Config parameter (1.37), and an unknown parameter is a TypeError at import (docs/runtime.md).
_AWS_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=64,
    parameter_validation=False,
)


class ConfigurationError(RuntimeError):
    """A variable the template always sets is missing: the deployment is broken, not the request."""


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def _intercom_token(settings: Settings) -> str:
    """SSM unreachable is a passing outage: the event is queued, not failed."""
    try:
        return intercom_token(settings)
    except GetParameterError as exc:
        raise RetryableError(None, "token_unavailable", str(exc)[:300]) from None


@cache
def _client() -> IntercomClient:
    settings = get_settings()
    return IntercomClient(
        new_pool(settings.delivery_concurrency),
        settings.api_base,
        lambda: _intercom_token(settings),
        settings.intercom_version,
        Timeout(connect=settings.intercom_connect_timeout, read=settings.intercom_read_timeout),
        RateLimitState(),
        wait_for_window=settings.intercom_wait_for_window,
    )


def drain_intercom_calls() -> list[Call]:
    """The Intercom calls made since the last drain, for the handlers' metrics (none if none was made)."""
    return _client().calls.drain() if _client.cache_info().currsize else []


@cache
def _deliverer() -> Deliverer:
    settings = get_settings()
    client = _client()
    registry = AttributeRegistry(
        client,
        settings.custom_attribute_policy,
        settings.cache_ttl_seconds,
        settings.custom_attribute_creates_per_minute,
        messenger_writable=settings.messenger_writable_attributes,
    )
    return Deliverer(client, registry, _identity_cache(), _people(), settings.unchanged_write_window_seconds)


@cache
def _identity_cache() -> IdentityCache:
    """The warm identity map: the deliverer reads and learns it, the record round trip fills and saves it."""
    return IdentityCache(get_settings().cache_ttl_seconds)


@cache
def _records() -> RecordSync:
    return RecordSync(_identity_cache(), _people())


@cache
def _people() -> People:
    """Per-person records and lead memory, in the idempotency table (ingest and redrive share them)."""
    settings = get_settings()
    table = _required(settings.idempotency_table, "IDEMPOTENCY_TABLE")
    return People(_dynamodb(), table, _executor())


# One client per service, from boto3's one default session (each client or session costs a cold start
# tens of milliseconds of model loading).
@cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb", config=_AWS_CONFIG)


@cache
def _sqs() -> Any:
    return boto3.client("sqs", config=_AWS_CONFIG)


@cache
def _s3() -> Any:
    return boto3.client("s3", config=_AWS_CONFIG)


@cache
def _executor() -> ThreadPoolExecutor:
    """Delivery threads (one person each), and the parallel SQS and DynamoDB batches after them."""
    return ThreadPoolExecutor(max_workers=get_settings().delivery_concurrency, thread_name_prefix="deliver")


def _queues(settings: Settings) -> tuple[Queue, Queue]:
    sqs = _sqs()
    return (
        Queue(sqs, _required(settings.dead_letter_queue_url, "DEAD_LETTER_QUEUE_URL"), _executor()),
        Queue(sqs, _required(settings.parking_queue_url, "PARKING_QUEUE_URL"), _executor()),
    )


def _claim_seconds(settings: Settings, budget: float) -> float:
    """A claim outlives the request's budget plus one Intercom call, then frees the event for a resend."""
    return budget + settings.intercom_read_timeout + 5


def _dedupe(settings: Settings, window_seconds: int | None = None, budget: float | None = None) -> Dedupe:
    return Dedupe(
        _dynamodb(),
        _required(settings.idempotency_table, "IDEMPOTENCY_TABLE"),
        window_seconds or settings.idempotency_window_seconds,
        _claim_seconds(settings, budget or settings.delivery_budget_seconds),
        _executor(),
    )


def _ingest(settings: Settings, dedupe: Dedupe) -> Ingest:
    dead_letters, parking = _queues(settings)
    return Ingest(
        settings,
        lambda: write_keys(settings),
        _deliverer(),
        _executor(),
        dead_letters,
        parking,
        dedupe,
        _people(),
        _records(),
        lambda: webhook_secrets(settings),
        ActionsSource(settings.actions_file, settings.actions_parameter, secrets.parameter),
    )


@cache
def ingest_service() -> Ingest:
    settings = get_settings()
    return _ingest(settings, _dedupe(settings))


def backfill_ingest() -> Ingest:
    """The live pipeline whose claims are the backfill's ledger: kept BACKFILL_LEDGER_DAYS, not a day, so an
    archive line read again in any later run is a duplicate."""
    settings = get_settings()
    return _ingest(settings, _dedupe(settings, settings.backfill_ledger_seconds, settings.backfill_chunk_seconds))


def backfill_caller(settings: Settings) -> Caller:
    """Whose messageIds the archive's are (BACKFILL_WRITE_KEY, or the first server key): the same key scopes
    the live de-duplication, so an archived event that also arrived live within its window is a duplicate."""
    if settings.backfill_write_key:
        return Caller(settings.backfill_write_key)
    servers = [caller for caller in map(caller_of, write_keys(settings)) if not caller.browser]
    return servers[0] if servers else Caller("")


def backfill_service(run: str, share: float | None = None) -> Backfill:
    """A backfill run (`run` names its checkpoints), paced to `share` of Intercom's window (BACKFILL_SHARE;
    by default what the redrive leaves live traffic: 1 - REDRIVE_LIVE_SHARE)."""
    from intercom_destination.backfill.pacing import Pacer
    from intercom_destination.backfill.runner import Backfill

    settings = get_settings()
    client = _client()
    return Backfill(
        backfill_ingest(),
        backfill_caller(settings),
        checkpoints(run),
        Pacer(client.rate_limit, backfill_share(settings, share), settings.backfill_chunk_events),
        client.calls,
        settings.backfill_chunk_seconds,
        _claim_seconds(settings, settings.backfill_chunk_seconds),
    )


def backfill_fleet() -> Fleet:
    """The AWS side of a backfill: its bucket, its queue of parts, its workers' runs."""
    from intercom_destination.backfill.fleet import Fleet

    settings = get_settings()
    return Fleet(
        _s3(),
        _sqs(),
        _required(settings.backfill_queue_url, "BACKFILL_QUEUE_URL"),
        _required(settings.backfill_bucket, "BACKFILL_BUCKET"),
        checkpoints,
        backfill_service,
    )


def backfill_share(settings: Settings, share: float | None = None) -> float:
    return share or settings.backfill_share or 1 - settings.redrive_live_share


def checkpoints(run: str) -> Checkpoints:
    """A run's checkpoints, for its status."""
    from intercom_destination.backfill.checkpoints import Checkpoints

    settings = get_settings()
    table = _required(settings.idempotency_table, "IDEMPOTENCY_TABLE")
    return Checkpoints(_dynamodb(), table, run, settings.backfill_ledger_seconds)


@cache
def forget_service() -> Forgetter:
    from intercom_destination.forget.service import Forgetter

    settings = get_settings()
    dead_letters, parking = _queues(settings)
    return Forgetter(_client(), _people(), _dedupe(settings), dead_letters, parking)


@cache
def redrive_service() -> Redrive:
    from intercom_destination.durability.tries import Tries
    from intercom_destination.replay.redrive import Redrive

    settings = get_settings()
    dead_letters, parking = _queues(settings)
    lanes = ThreadPoolExecutor(max_workers=settings.delivery_concurrency, thread_name_prefix="redrive")
    tries = Tries(_dynamodb(), _required(settings.idempotency_table, "IDEMPOTENCY_TABLE"))
    records = _records()
    return Redrive(
        settings, _deliverer(), dead_letters, parking, _people(), records, _client().rate_limit, tries, lanes
    )


def reset() -> None:
    """Forget everything built (tests and the local stack simulate a cold start with this)."""
    get_settings.cache_clear()
    _client.cache_clear()
    _deliverer.cache_clear()
    _identity_cache.cache_clear()
    _records.cache_clear()
    ingest_service.cache_clear()
    _executor.cache_clear()
    _people.cache_clear()
    _dynamodb.cache_clear()
    _sqs.cache_clear()
    _s3.cache_clear()
    secrets.forget()
    redrive_service.cache_clear()
    forget_service.cache_clear()
