"""A client generated from our `/openapi.json` by a real OpenAPI generator (openapi-python-client, from
PyPI) calls the running `make dev` stack by name: each route is in the document as it is (#21 §5)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import urllib3

from tests.dev_server import DevServer, dev_server

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "destination_client"


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with dev_server(WEBHOOK_SECRET="pipeline-secret") as running:
        yield running


@pytest.fixture(scope="module")
def client_package(dev: DevServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generator's output for the document the running stack serves, importable for this module."""
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_bytes(urllib3.request("GET", dev.endpoint + "/openapi.json").data)
    config = folder / "config.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    done = subprocess.run(  # noqa: S603
        [str(GENERATOR), "generate", "--path", str(document), "--meta", "none", "--config", str(config),
         "--output-path", str(folder / PACKAGE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.default.{name}")


def model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def sandbox_state(dev: DevServer) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(urllib3.request("GET", dev.sandbox + "/_sandbox/state").data)
    return state


def test_every_call_path_is_an_operation_of_the_generated_client(client_package: ModuleType) -> None:
    from intercom_destination.intake.inbound import BATCH_PATHS, SINGLE_CALL_PATHS

    for kind in [*BATCH_PATHS, *SINGLE_CALL_PATHS]:
        assert hasattr(operation(client_package, f"send_{kind}"), "sync_detailed"), kind
    for method in ("post", "put", "patch"):
        assert hasattr(operation(client_package, f"send_webhook_{method}"), "sync_detailed")
    assert hasattr(operation(client_package, "health"), "sync")


def test_the_generated_client_delivers_each_call_type_by_name(client_package: ModuleType, dev: DevServer) -> None:
    client = client_package.AuthenticatedClient(base_url=dev.endpoint, token="dev-write-key")  # a Bearer write key
    identify = model(client_package, "Identify").from_dict(
        {"type": "identify", "userId": "gen-1", "traits": {"email": "gen@example.com", "name": "Generated"}}
    )
    group = model(client_package, "Group").from_dict(
        {"type": "group", "userId": "gen-1", "groupId": "gen-co", "traits": {"name": "Generated Co"}}
    )
    track = model(client_package, "Track").from_dict(
        {"type": "track", "userId": "gen-1", "event": "Generated Event", "properties": {"revenue": 5}}
    )
    batch = model(client_package, "Batch").from_dict(
        {"batch": [{"type": "track", "userId": "gen-1", "event": "Batched Event"}]}
    )
    answers = [
        operation(client_package, "send_identify").sync_detailed(client=client, body=identify),
        operation(client_package, "send_group").sync_detailed(client=client, body=group),
        operation(client_package, "send_t").sync_detailed(client=client, body=track),  # analytics.js's short path
        operation(client_package, "send_batch").sync_detailed(client=client, body=batch),
    ]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert all(answer.parsed.success is True for answer in answers)  # parsed into the document's Accepted
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = sandbox_state(dev)
        if len(state["events"]) == 2:
            break
        time.sleep(0.1)
    (contact,) = [c for c in state["contacts"] if c.get("external_id") == "gen-1"]
    assert contact["email"] == "gen@example.com"
    assert [company["company_id"] for company in state["companies"]] == ["gen-co"]
    assert sorted(event["event_name"] for event in state["events"]) == ["Batched Event", "Generated Event"]


def test_the_generated_client_reads_refusals_as_the_document_describes(
    client_package: ModuleType, dev: DevServer
) -> None:
    wrong = client_package.AuthenticatedClient(base_url=dev.endpoint, token="wrong-key")
    track = model(client_package, "Track").from_dict({"type": "track", "userId": "gen-2", "event": "Refused"})
    unauthorized = operation(client_package, "send_track").sync_detailed(client=wrong, body=track)
    assert unauthorized.status_code == 401
    assert type(unauthorized.parsed).__name__ == "Refused"
    assert unauthorized.parsed.code == "unauthorized"
    client = client_package.AuthenticatedClient(base_url=dev.endpoint, token="dev-write-key")
    invalid = model(client_package, "Track").from_dict({"type": "track", "userId": "gen-2", "event": "  "})  # blank
    refused = operation(client_package, "send_track").sync_detailed(client=client, body=invalid)
    assert refused.status_code == 400
    assert type(refused.parsed).__name__ == "EventsRefused"
    assert [error.field for error in refused.parsed.errors] == ["event"]


def test_the_generated_client_calls_the_webhook_health_and_preview(client_package: ModuleType, dev: DevServer) -> None:
    client = client_package.AuthenticatedClient(base_url=dev.endpoint, token="dev-write-key")
    identify = model(client_package, "Identify").from_dict({"type": "identify", "userId": "gen-3"})
    for method in ("post", "put", "patch"):
        answer = operation(client_package, f"send_webhook_{method}").sync_detailed(client=client, body=identify)
        assert answer.status_code == 200, method
    assert operation(client_package, "health").sync_detailed(client=client).status_code == 200
    preview = operation(client_package, "preview").sync_detailed(client=client, body=identify)
    assert preview.status_code == 200
    assert [action.name for action in preview.parsed.events[0].actions] == ["Identify Contact"]
