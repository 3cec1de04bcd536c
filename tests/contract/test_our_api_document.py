"""Our own API document: valid OpenAPI, every route of the resolver in it, and every answer the endpoint
gives matching the schema the document promises for that status (checked over real HTTP)."""

from __future__ import annotations

import gzip
import inspect
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from local.adapter import load_handler
from local.sandbox import SandboxControl
from tests.conftest import Api, Reply

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document(stack: Any) -> dict[str, Any]:
    reply = Api(stack.url).request("GET", "/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    return reply.body


def test_the_document_is_valid_openapi_with_the_write_key_schemes(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")
    schemes = document["components"]["securitySchemes"]
    assert {(s["type"], s.get("scheme") or s["name"]) for s in schemes.values()} == {
        ("http", "basic"),
        ("http", "bearer"),
        ("apiKey", "X-Signature"),
    }
    batch = document["paths"]["/v1/batch"]["post"]
    assert batch["security"] == [{"writeKeyBasic": []}, {"writeKeyBearer": []}]
    for method in ("post", "put", "patch"):  # a pipeline's webhook may also sign its body
        assert {"webhookSignature": []} in document["paths"]["/v1/webhook"][method]["security"]
    shapes = batch["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert [shape["$ref"].rsplit("/", 1)[1] for shape in shapes if "$ref" in shape] == ["Batch"]
    (array,) = [shape for shape in shapes if shape.get("type") == "array"]  # a bare array of calls
    calls = {"Identify", "Track", "Page", "Screen", "Group", "Alias"}
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in array["items"]["oneOf"]} == calls
    webhook = document["paths"]["/v1/webhook"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {shape["$ref"].rsplit("/", 1)[1] for shape in webhook["anyOf"] if "$ref" in shape} == calls | {"Batch"}


def test_each_call_path_is_described_with_its_own_body(document: dict[str, Any]) -> None:
    """A generated client calls /v1/identify or /v1/batch by name, each with the body it takes."""
    from intercom_destination.intake.inbound import BATCH_PATHS, SINGLE_CALL_PATHS

    for kind, call in SINGLE_CALL_PATHS.items():
        operation = document["paths"][f"/v1/{kind}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"] == f"#/components/schemas/{call.capitalize()}", kind
        assert operation["operationId"] == f"send_{kind}"
        assert "parameters" not in operation  # no {kind} left to fill in
    for kind in BATCH_PATHS:
        operation = document["paths"][f"/v1/{kind}"]["post"]
        assert operation["requestBody"] == document["paths"]["/v1/batch"]["post"]["requestBody"]
    assert not any("{" in path for path in document["paths"])
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_route_of_the_resolver_is_in_the_document(document: dict[str, Any]) -> None:
    handler = load_handler(ROOT / "functions" / "ingest" / "app.py", "ingest_app_for_document")
    app = inspect.unwrap(handler).__globals__["app"]
    routes = {(route.openapi_path, route.method.lower()) for route in app._static_routes + app._dynamic_routes}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes - documented == {("/docs", "get")}  # the Swagger UI is the document's viewer, not in it
    assert documented <= routes


def test_the_swagger_ui_is_served_at_docs(stack: Any) -> None:
    reply = Api(stack.url).request("GET", "/docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in reply.body["raw"]


def answers_as_documented(document: dict[str, Any], reply: Reply, path: str = "/v1/batch") -> None:
    """The body validates against the schema the document gives for this status (refs resolved in place)."""
    answers = document["paths"][path]["post"]["responses"]
    schema = answers[str(reply.status)]["content"]["application/json"]["schema"]
    jsonschema.validate(reply.body, {**schema, "components": document["components"]})
    for header in answers[str(reply.status)].get("headers", {}):
        assert header.lower() in reply.headers


def test_each_answer_of_the_endpoint_matches_the_document(
    document: dict[str, Any], api: Api, sandbox: SandboxControl
) -> None:
    track = {"type": "track", "userId": "u-1", "event": "Signed Up"}
    replies = [
        api.batch(track),
        api.batch(track, {"type": "track", "userId": "u-2"}),
        api.post("/v1/batch", raw=b"{not json"),
        api.post("/v1/batch", {"batch": []}, key="wrong"),
        api.post("/v1/nope", {}),
        api.post("/v1/batch", raw=gzip.compress(b"{}"), headers={"Content-Encoding": "br"}),
        api.post("/v1/batch", raw=json.dumps({"batch": [track] * 20_000}).encode()),
    ]
    assert [reply.status for reply in replies] == [200, 400, 400, 401, 404, 415, 413]
    assert replies[1].body["errors"][0]["field"] == "event"
    for reply in replies:
        answers_as_documented(document, reply)


def test_each_answer_of_the_preview_matches_the_document(
    document: dict[str, Any], api: Api, sandbox: SandboxControl
) -> None:
    events = [
        {"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}},
        {"type": "group", "userId": "u-1", "groupId": "g"},
        {"type": "track", "anonymousId": "a", "event": "Anonymous"},  # skipped by its action: no contact
        {"type": "page", "userId": "u-1"},  # no action fires
        {"type": "track"},  # invalid
    ]
    replies = [
        api.post("/v1/preview", events),
        api.post("/v1/preview", raw=b"{not json"),
        api.post("/v1/preview", events, key="wrong"),
    ]
    assert [reply.status for reply in replies] == [200, 400, 401]
    assert [len(event["actions"]) for event in replies[0].body["events"]] == [1, 1, 1, 0]
    for reply in replies:
        answers_as_documented(document, reply, "/v1/preview")
