"""The destination's core (the deliverer, ingest, the redrive) built by its own wiring, in this process:
Intercom is the sandbox's request handler called in-process (no socket) and SQS and DynamoDB one
embedded moto server, under queue names of their own. Fast enough for `make unit`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from intercom_destination import wiring
from intercom_destination.ingest.report import Answer
from intercom_destination.intake.inbound import RawRequest
from intercom_destination.replay.summary import Summary
from moto.server import ThreadedMotoServer

from local import stack as local_stack
from local.sandbox import DEFAULT_TOKEN, Sandbox
from local.sandbox.inprocess import InProcessPool

WRITE_KEY = "unit-write-key"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml as CloudFormation reads it (cfn-lint's own loader)."""
    parsed, errors = decode(str(TEMPLATE))
    assert not errors
    assert parsed is not None
    return dict(parsed)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    local_stack.patch_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Core:
    sandbox: Sandbox
    resources: local_stack.Resources

    def send(self, *events: dict[str, Any], key: str = WRITE_KEY, path: str = "batch") -> Answer:
        """A request as the ingest handler hands it over (API Gateway's shape, Basic auth)."""
        auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        body = json.dumps({"batch": list(events)} if path == "batch" else events[0])
        request = RawRequest(body, False, {"authorization": auth, "content-type": "application/json"})
        return wiring.ingest_service().handle(path, request, datetime.now(UTC))

    def replay(self) -> Summary:
        return wiring.redrive_service().drain(budget_seconds=10)

    def calls(self) -> list[str]:
        return [f"{request['method']} {request['path']}" for request in self.sandbox.requests]

    def faults(self, *faults: dict[str, Any]) -> None:
        self.sandbox.configure({"faults": list(faults)})


@pytest.fixture
def core(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    resources = local_stack.provision(moto_endpoint, prefix="unit")
    resources.clear()
    sandbox = Sandbox()
    env = local_stack.function_env(
        write_key=WRITE_KEY, intercom_api_base="http://intercom.test", intercom_token=DEFAULT_TOKEN, resources=resources
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDRIVE_BACKOFF_SECONDS", "1")
    monkeypatch.setattr(wiring, "new_pool", lambda _: InProcessPool(sandbox))
    wiring.reset()
    try:
        yield Core(sandbox, resources)
    finally:
        wiring.reset()
        assert [entry for entry in sandbox.requests if entry["violations"]] == []  # the contract, every test
