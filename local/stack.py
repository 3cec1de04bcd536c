"""The whole destination on one machine: Intercom sandbox, SQS and DynamoDB (moto in server mode), the
ingest function behind the API Gateway adapter, and the redrive function. Used by `make dev`,
`make replay`, the tests and the benchmark."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from intercom_destination.config.settings import Settings
from moto.server import ThreadedMotoServer

from . import environment
from .adapter import Adapter, Handler, LambdaContext, load_handler
from .instances import Instances
from .sandbox import DEFAULT_TOKEN, Sandbox

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "intercom-destination"
IDEMPOTENCY_TABLE = "intercom-destination-idempotency"
#: Receives before SQS parks a message (the template's MaxReceiveCount parameter: a safety net; the
#: redrive parks by its own count of failed tries, REDRIVE_MAX_REPLAYS).
MAX_RECEIVE_COUNT = 1000
#: What the template sets in AWS, minus secrets, with local defaults.
BASE_ENV = {
    "POWERTOOLS_SERVICE_NAME": "intercom-destination",
    "POWERTOOLS_METRICS_NAMESPACE": "IntercomDestination",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would drown the logs locally
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # as the template sets it
}


@dataclass(frozen=True)
class Resources:
    """The AWS resources template.yaml creates, made in moto instead."""

    endpoint: str
    dead_letter_queue_url: str
    parking_queue_url: str
    table: str
    prefix: str = PREFIX
    backfill_queue_url: str = ""
    backfill_bucket: str = ""

    def clear(self) -> None:
        """Empty the queues, the backfill bucket and the idempotency table (between tests)."""
        sqs = boto3.client("sqs", endpoint_url=self.endpoint)
        for url in (self.dead_letter_queue_url, self.parking_queue_url, self.backfill_queue_url):
            sqs.delete_queue(QueueUrl=url)  # PurgeQueue is allowed once a minute; moto recreates at once
        s3 = boto3.client("s3", endpoint_url=self.endpoint)
        for item in s3.list_objects_v2(Bucket=self.backfill_bucket).get("Contents", []):
            s3.delete_object(Bucket=self.backfill_bucket, Key=item["Key"])
        assert provision(self.endpoint, prefix=self.prefix) == self
        dynamodb = boto3.client("dynamodb", endpoint_url=self.endpoint)
        for page in dynamodb.get_paginator("scan").paginate(TableName=self.table, ProjectionExpression="id"):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=self.table, Key={"id": item["id"]})

    def peek(self, parked: bool = False) -> list[Any]:
        """Every message of the dead-letter (or parking) queue, visible or backing off, in queue order.

        Read from the embedded SQS's memory: receiving would count as a delivery attempt (and moto's
        FIFO emulation mishandles messages received with a zero visibility timeout)."""
        from intercom_destination.durability.queue import QueuedEvent
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        url = self.queue_url(parked)
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].queues[url.rsplit("/", 1)[1]]
        return [QueuedEvent.from_json(message.body) for message in queue._messages]

    def depth(self, parked: bool = False) -> int:
        """Messages in the dead-letter (or parking) queue, visible or backing off."""
        from intercom_destination.durability.queue import Queue

        return Queue(boto3.client("sqs", endpoint_url=self.endpoint), self.queue_url(parked)).depth()

    def queue_url(self, parked: bool) -> str:
        return self.parking_queue_url if parked else self.dead_letter_queue_url


def provision(endpoint: str, max_receive_count: int = MAX_RECEIVE_COUNT, prefix: str = PREFIX) -> Resources:
    """Create (or find) the two FIFO queues and the idempotency table, as the template does."""
    os.environ.update(BASE_ENV)
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    fifo: dict[Any, str] = {"FifoQueue": "true", "MessageRetentionPeriod": "1209600", "MaximumMessageSize": "1048576"}
    parking = sqs.create_queue(QueueName=f"{prefix}-parking.fifo", Attributes=fifo)["QueueUrl"]
    parking_arn = sqs.get_queue_attributes(QueueUrl=parking, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = f'{{"deadLetterTargetArn": "{parking_arn}", "maxReceiveCount": "{max_receive_count}"}}'
    dead_letters = sqs.create_queue(
        QueueName=f"{prefix}-dlq.fifo", Attributes={**fifo, "VisibilityTimeout": "60", "RedrivePolicy": redrive}
    )["QueueUrl"]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    if IDEMPOTENCY_TABLE not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=IDEMPOTENCY_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
    backfill = sqs.create_queue(QueueName=f"{prefix}-backfill", Attributes={"VisibilityTimeout": "5400"})["QueueUrl"]
    bucket = f"{prefix}-backfill"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return Resources(endpoint, dead_letters, parking, IDEMPOTENCY_TABLE, prefix, backfill, bucket)


def function_env(
    *, write_key: str, intercom_api_base: str, intercom_token: str, resources: Resources, **overrides: str
) -> dict[str, str]:
    """Every setting back to its default, pointed at these resources and this Intercom, plus `overrides`."""
    env = {name.upper(): "" for name in Settings.model_fields}
    env |= {
        "WRITE_KEYS": write_key,
        "INTERCOM_API_BASE": intercom_api_base,
        "INTERCOM_ACCESS_TOKEN": intercom_token,
        "DEAD_LETTER_QUEUE_URL": resources.dead_letter_queue_url,
        "PARKING_QUEUE_URL": resources.parking_queue_url,
        "IDEMPOTENCY_TABLE": resources.table,
        "BACKFILL_QUEUE_URL": resources.backfill_queue_url,
        "BACKFILL_BUCKET": resources.backfill_bucket,
        "AWS_ENDPOINT_URL_SQS": resources.endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": resources.endpoint,
        "AWS_ENDPOINT_URL_SSM": resources.endpoint,
        "AWS_ENDPOINT_URL_S3": resources.endpoint,
    }
    return env | overrides


def configure(**env: str) -> None:
    """Set function environment variables and make the next invocation read them (a new cold start)."""
    os.environ.update(env)
    from intercom_destination import wiring  # after BASE_ENV and env: its loggers read the service name and level

    wiring.reset()


class NoLocalStackError(SystemExit):
    """No `make dev` answers where a command looks for it: one line that says how to start or find one."""


def attach_to_dev() -> tuple[Resources, str]:
    """Point this process's functions at the running `make dev` stack (its ports: SANDBOX_PORT, AWS_PORT;
    or INTERCOM_API_BASE), as `make replay`, `make unpark`, `make forget` and `make backfill` do, with the
    settings that stack published (its actions file among them), and any setting given on this command's
    line over them. Returns its resources and the Intercom API base. Raises NoLocalStackError when nothing
    answers on AWS_PORT."""
    environment.settings()  # a wrong setting is named before anything runs
    aws_port = environment.port("AWS_PORT")
    if not answers("127.0.0.1", aws_port):
        raise NoLocalStackError(
            f"no local stack answers on 127.0.0.1:{aws_port} (AWS_PORT): start one with `make dev` in another "
            "terminal, or set AWS_PORT and SANDBOX_PORT to the ports its banner printed"
        )
    resources = provision(f"http://127.0.0.1:{aws_port}")
    published = published_env(resources.endpoint)
    api_base = (
        environment.api_base()
        or published.get("INTERCOM_API_BASE")
        or f"http://127.0.0.1:{environment.port('SANDBOX_PORT')}"
    )
    token = os.environ.get("INTERCOM_ACCESS_TOKEN") or DEFAULT_TOKEN
    env = function_env(write_key="unused", intercom_api_base=api_base, intercom_token=token, resources=resources)
    given = {name: os.environ[name] for name in env if os.environ.get(name, "").strip()}  # on this command's line
    configure(
        **(env | published | given | {"INTERCOM_API_BASE": api_base, "INTERCOM_ACCESS_TOKEN": token}),
        POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    )
    return resources, api_base


#: Where a running stack publishes its functions' settings (secrets left out), in its own embedded SSM.
_PUBLISHED = "/intercom-destination/dev/function-env"
_UNPUBLISHED = ("INTERCOM_ACCESS_TOKEN", "WEBHOOK_SECRETS")


def publish_env(endpoint: str, env: dict[str, str]) -> None:
    """What the running stack's functions were given (its actions file, its settings), for the commands that
    attach to it (`make backfill`, `make replay`, `make forget`) to run with the same."""
    shown = {name: value for name, value in env.items() if name not in _UNPUBLISHED}
    ssm = boto3.client("ssm", endpoint_url=endpoint)
    ssm.put_parameter(Name=_PUBLISHED, Value=json.dumps(shown), Type="String", Overwrite=True)


def published_env(endpoint: str) -> dict[str, str]:
    """The running stack's published settings (none from a stack older than publishing)."""
    ssm = boto3.client("ssm", endpoint_url=endpoint)
    try:
        return dict(json.loads(ssm.get_parameter(Name=_PUBLISHED)["Parameter"]["Value"]))
    except ssm.exceptions.ParameterNotFound:
        return {}


def answers(host: str, port: int) -> bool:
    """Something accepts connections there."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free(host: str, port: int) -> bool:
    """Nothing listens there yet (port 0 asks the system for any free port: always free)."""
    if port == 0:
        return True
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


def load_redrive() -> Handler:
    return load_handler(ROOT / "functions" / "redrive" / "app.py", "redrive_app")


def load_forget() -> Handler:
    return load_handler(ROOT / "functions" / "forget" / "app.py", "forget_app")


def load_backfill() -> Handler:
    return load_handler(ROOT / "functions" / "backfill" / "app.py", "backfill_app")


def invoke(
    handler: Handler, event: dict[str, Any] | None = None, timeout_seconds: float = 60, name: str = "redrive"
) -> Any:
    """Call a function the way Lambda would (the redrive function's event is ignored)."""
    return handler(event or {"source": "local"}, LambdaContext(name, timeout_seconds))


@dataclass
class Stack:
    url: str
    write_key: str
    intercom_api_base: str
    intercom_token: str
    resources: Resources
    sandbox: Sandbox | None
    adapter: Adapter | Instances  # the function in this process, or instances in processes of their own
    aws: ThreadedMotoServer
    redrive: Handler
    forgetter: Handler

    def function_env(self, **overrides: str) -> dict[str, str]:
        return function_env(
            write_key=self.write_key,
            intercom_api_base=self.intercom_api_base,
            intercom_token=self.intercom_token,
            resources=self.resources,
            **overrides,
        )

    def reconfigure(self, **overrides: str) -> None:
        """Default settings plus `overrides`, read by the next invocation of every function (cold starts)."""
        env = self.function_env(**overrides)
        configure(**env)
        publish_env(self.resources.endpoint, env)
        if isinstance(self.adapter, Instances):
            self.adapter.configure(env)

    def clear(self) -> None:
        self.resources.clear()

    def peek(self, parked: bool = False) -> list[Any]:
        return self.resources.peek(parked)

    def depth(self, parked: bool = False) -> int:
        return self.resources.depth(parked)

    def replay(self) -> dict[str, int]:
        """One redrive run, as the schedule or `make replay` would start it."""
        summary: dict[str, int] = invoke(self.redrive)
        return summary

    def forget(self, user_id: str | None = None, email: str | None = None) -> dict[str, Any]:
        """The forget function, as `make forget` or `sam remote invoke ForgetFunction` would start it."""
        result: dict[str, Any] = invoke(self.forgetter, {"userId": user_id, "email": email}, name="forget")
        return result

    def stop(self) -> None:
        self.adapter.stop()
        if self.sandbox:
            self.sandbox.stop()
        self.aws.stop()


_MOTO_WRITES = threading.RLock()
_MOTO_RECEIVES = threading.RLock()


class _TableCopiedOnce:
    """`copy` as moto's TransactWriteItems sees it: its rollback backup deep-copies the whole table once
    per item of the transaction (100 copies of a table holding thousands of claims); once is enough,
    because every backup is taken before the first write."""

    def __init__(self) -> None:
        self._tables: dict[int, Any] = {}

    def deepcopy(self, value: Any, *args: Any) -> Any:
        from moto.dynamodb.models import Table

        if not isinstance(value, Table):
            return copy.deepcopy(value, *args)
        if id(value) not in self._tables:
            self._tables[id(value)] = copy.deepcopy(value)
        return self._tables[id(value)]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def patch_moto() -> None:
    """Defects of moto's emulation that AWS does not have, mended for local runs only (the function still
    sends its batches in parallel):
    - a DynamoDB transaction deep-copies the table while other request threads write to it ("dictionary
      changed size during iteration"), so moto's DynamoDB writes are serialized; and it copies the table
      once per item (see _TableCopiedOnce);
    - SQS checks every message's visibility through datetime arithmetic, about 60 times per
      SendMessageBatch (it recomputes the queue's attributes): 1.7 s per call once a FIFO queue holds
      2,000 messages. The same checks against time.time() cost about a tenth;
    - SQS's ReceiveMessage marks messages received without a lock, so two receives at the same moment
      can both take one message (or two messages of one FIFO group): SQS never hands a received message
      to another receiver within its visibility timeout. Receives, deletes and visibility changes of
      messages are serialized (ours never long-poll);
    - PartiQL INSERTs in a BatchExecuteStatement ignore their `?` parameters (the parser fails on them)
      and overwrite an existing item; DynamoDB fails such a statement alone, with the code DuplicateItem.
      Our claims' INSERTs are run as DynamoDB documents them (see _insert_statements)."""
    from moto.dynamodb import models
    from moto.sqs import models as sqs_models

    for name in ("receive_message", "delete_message", "change_message_visibility"):
        method = getattr(sqs_models.SQSBackend, name)
        if getattr(method, "patched", False):
            continue

        def serialized(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            with _MOTO_RECEIVES:
                return _method(self, *args, **kwargs)

        serialized.patched = True  # type: ignore[attr-defined]
        setattr(sqs_models.SQSBackend, name, serialized)

    sqs_models.Message.visible = property(lambda m: time.time() * 1000 > m.visible_at)  # type: ignore[method-assign,assignment]
    sqs_models.Message.delayed = property(lambda m: time.time() * 1000 < m.delayed_until)  # type: ignore[method-assign,assignment]

    original_batch = models.DynamoDBBackend.batch_execute_statement
    if not getattr(original_batch, "patched", False):

        def batch_execute_statement(self: Any, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if all(_INSERT.fullmatch(statement["Statement"]) for statement in statements):
                return _insert_statements(self, statements)
            return list(original_batch(self, statements))

        batch_execute_statement.patched = True  # type: ignore[attr-defined]
        models.DynamoDBBackend.batch_execute_statement = batch_execute_statement  # type: ignore[method-assign]

    for name in ("transact_write_items", "put_item", "delete_item", "update_item"):
        original = getattr(models.DynamoDBBackend, name)
        if getattr(original, "patched", False):
            continue

        def patched(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            with _MOTO_WRITES:
                if _name != "transact_write_items":
                    return _original(self, *args, **kwargs)
                models.copy = _TableCopiedOnce()  # type: ignore[assignment]
                try:
                    return _original(self, *args, **kwargs)
                finally:
                    models.copy = copy

        patched.patched = True  # type: ignore[attr-defined]
        setattr(models.DynamoDBBackend, name, patched)


_INSERT = re.compile(r"""INSERT INTO "(?P<table>[^"]+)" VALUE \{(?P<fields>('[a-z_]+': \?(, )?)+)\}""")


def _insert_statements(backend: Any, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """INSERT statements as DynamoDB runs them in a batch: each with its parameters, each failing alone
    (DuplicateItem) when an item with its key exists."""
    from moto.dynamodb.exceptions import ConditionalCheckFailed

    responses: list[dict[str, Any]] = []
    for statement in statements:
        match = _INSERT.fullmatch(statement["Statement"])
        assert match is not None
        names = re.findall(r"'([a-z_]+)'", match["fields"])
        item = dict(zip(names, statement["Parameters"], strict=True))
        try:
            backend.put_item(
                match["table"],
                item,
                condition_expression="attribute_not_exists(#id)",
                expression_attribute_names={"#id": "id"},
            )
        except ConditionalCheckFailed:
            error = {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}
            responses.append({"TableName": match["table"], "Error": error})
            continue
        responses.append({"TableName": match["table"]})
    return responses


def start(
    *,
    port: int = 0,
    sandbox_port: int = 0,
    aws_port: int = 0,
    write_key: str = "dev-write-key",
    intercom_api_base: str | None = None,
    intercom_token: str | None = None,
    host: str = "127.0.0.1",
    instances: int = 0,
) -> Stack:
    """`instances`: 0 runs the ingest function in this process (tests reach into it); N > 0 runs N
    instances, each in its own process (local.instances), as `make dev` does."""
    sandbox = None
    if not intercom_api_base:
        sandbox = Sandbox(host=host, port=sandbox_port).start()
        intercom_api_base, intercom_token = sandbox.url, DEFAULT_TOKEN
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    patch_moto()
    aws = ThreadedMotoServer(ip_address=host, port=aws_port, verbose=False)
    aws.start()
    aws_host, aws_bound = aws.get_host_and_port()
    resources = provision(f"http://{aws_host}:{aws_bound}")
    token = intercom_token or ""
    env = function_env(
        write_key=write_key, intercom_api_base=intercom_api_base, intercom_token=token, resources=resources
    )
    configure(**env)
    publish_env(resources.endpoint, env)
    adapter: Adapter | Instances
    if instances:
        adapter = Instances(instances, env, host=host, port=port).start()
    else:
        adapter = Adapter(load_handler(ROOT / "functions" / "ingest" / "app.py", "ingest_app"), host=host, port=port)
        adapter.start()
    redrive, forgetter = load_redrive(), load_forget()
    return Stack(adapter.url, write_key, intercom_api_base, token, resources, sandbox, adapter, aws, redrive, forgetter)
