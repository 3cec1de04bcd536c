"""A DynamoDB or SQS that hangs: each call may take botocore's timeouts times its attempts, and two in a row
would outlast Lambda's timeout (a 500). The ingest request answers 503 with Retry-After by its delivery
budget instead, before the SDKs give up (10 s)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import Api, cold_start

BUDGET_SECONDS = 2.0


@pytest.fixture
def hanging() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("service", ["DYNAMODB", "SQS"])
def test_a_hanging_aws_service_is_a_503_within_the_budget(
    api: Api, stack: Stack, sandbox: SandboxControl, hanging: str, service: str
) -> None:
    cold_start(stack, **{f"AWS_ENDPOINT_URL_{service}": hanging, "DELIVERY_BUDGET_SECONDS": str(BUDGET_SECONDS)})
    if service == "SQS":  # Intercom down: every event must be queued, and the queue hangs
        sandbox.configure(faults=[{"status": 503}])
    started = time.monotonic()
    reply = api.batch({"type": "identify", "userId": f"slow-{service}", "messageId": f"slow-{service}-1"})
    elapsed = time.monotonic() - started
    assert (reply.status, reply.body["code"]) == (503, "unavailable")
    assert reply.headers["retry-after"] == "5"
    assert BUDGET_SECONDS - 0.2 < elapsed < BUDGET_SECONDS + 0.5
