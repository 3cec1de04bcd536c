"""Fixtures shared by every test folder: the local stack (started once) and a clean sandbox per test."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import urllib3

from local import stack as local_stack
from local.sandbox import SandboxControl

WRITE_KEY = "dev-write-key"
#: A Customer.io-style key (sk_ prefix): customerio-cdp-analytics sends it as a Bearer token.
CIO_KEY = "sk_test_e2e_key"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Api:
    """The destination's HTTPS endpoint as an SDK sees it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = urllib3.PoolManager(retries=False)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = WRITE_KEY,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())
        data = raw if raw is not None else json.dumps(body).encode()
        return self.request("POST", path, data, sent)

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        response = self.http.request(method, self.url + path, body=data, headers=headers or {})
        try:
            parsed = json.loads(response.data) if response.data else {}
        except ValueError:
            parsed = {"raw": response.data.decode(errors="replace")}
        return Reply(response.status, parsed, {k.lower(): v for k, v in response.headers.items()})

    def batch(self, *events: dict[str, Any], **kwargs: Any) -> Reply:
        return self.post("/v1/batch", {"batch": list(events)}, **kwargs)


@pytest.fixture(scope="session")
def stack() -> Iterator[local_stack.Stack]:
    running = local_stack.start(write_key=WRITE_KEY)
    yield running
    running.stop()


def outcomes(summary: dict[str, int]) -> dict[str, int]:
    """A redrive summary without its timing and backlog figures, which vary from run to run, and the
    forgotten count (the forget tests check it)."""
    return {name: value for name, value in summary.items() if name not in ("elapsed_ms", "backlog", "forgotten")}


def handled(*events: dict[str, Any]) -> Any:
    """The ingest function's Answer to a batch of `events` (under the dev write key), with its metric counts,
    which the handler emits and HTTP does not show."""
    from datetime import UTC, datetime

    from intercom_destination.intake.inbound import RawRequest
    from intercom_destination.wiring import ingest_service

    body = base64.b64encode(json.dumps({"batch": list(events)}).encode()).decode()
    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    request = RawRequest(body=body, is_base64_encoded=True, headers={"authorization": auth})
    return ingest_service().handle("batch", request, datetime.now(UTC))


def cold_start(stack: local_stack.Stack, **settings: str) -> None:
    """A new Lambda execution environment (empty caches) with default settings plus `settings`."""
    local_stack.configure(**stack.function_env(**{"WRITE_KEYS": f"{WRITE_KEY},{CIO_KEY}", **settings}))


@pytest.fixture
def sandbox(stack: local_stack.Stack, request: pytest.FixtureRequest) -> Iterator[SandboxControl]:
    """An empty Intercom workspace and a cold function per test; afterwards, no request our client sent
    may have broken Intercom's OpenAPI description (the contract, checked on every test)."""
    control = SandboxControl(stack.intercom_api_base)
    control.reset()
    stack.clear()
    cold_start(stack)
    yield control
    if request.node.get_closest_marker("spec_violations_expected") is None:
        assert control.state()["violations"] == []


@pytest.fixture
def api(stack: local_stack.Stack, sandbox: SandboxControl) -> Api:
    return Api(stack.url)


class InstancesApi(Api):
    """The endpoint in front of several ingest function instances (local.instances), as `INSTANCES=N make dev`
    runs it: `on=i` sends a request to instance i."""

    def __init__(self, running: Any) -> None:
        super().__init__(running.url)
        self.running = running

    def on(self, instance: int, *events: dict[str, Any]) -> Reply:
        reply = self.batch(*events, headers={"X-Dev-Instance": str(instance)})
        assert reply.headers.get("x-dev-instance") == str(instance)
        return reply


@pytest.fixture
def instances(stack: local_stack.Stack, sandbox: SandboxControl, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Two cold ingest instances, each its own process, sharing the stack's sandbox, SQS and DynamoDB;
    `@pytest.mark.instance_settings(NAME=value)` sets their environment."""
    from local.instances import Instances

    marker = request.node.get_closest_marker("instance_settings")
    settings = {"WRITE_KEYS": f"{WRITE_KEY},{CIO_KEY}", **(marker.kwargs if marker else {})}
    count = int(settings.pop("COUNT", 2))
    running = Instances(count, stack.function_env(**settings)).start()
    yield InstancesApi(running)
    running.stop()
