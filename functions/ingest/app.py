"""Ingest function: the HTTPS endpoint the analytics SDKs post to (API Gateway HTTP API, payload 2.0).

Thin on purpose: routing, HTTP shapes, logs and metrics. Validation is per event inside the layer
(not the resolver's request validation) because a batch answers per event, in the shape SDKs read.
The routes' annotations document them: powertools generates `/openapi.json` from them on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_destination.ingest.report import MISCONFIGURED, RETRY_AFTER_SECONDS, Answer
from intercom_destination.intake import api_doc
from intercom_destination.intake.answers import INGEST_ANSWERS, PREVIEW_ANSWERS, SECURITY, Accepted, Preview, Refused
from intercom_destination.intake.inbound import RawRequest, RequestError
from intercom_destination.telemetry import add_intercom_metrics
from intercom_destination.wiring import drain_intercom_calls, ingest_service

WEB_SCRIPT = (Path(__file__).parent / "web" / "intercom.js").read_text(encoding="utf-8")
WEB_SCRIPT_ETAG = '"' + hashlib.sha256(WEB_SCRIPT.encode()).hexdigest()[:32] + '"'
#: The script's own VERSION: only `?v=` of exactly this may be cached as immutable.
WEB_SCRIPT_VERSION = re.search(r"var VERSION = '([^']+)'", WEB_SCRIPT).group(1)  # type: ignore[union-attr]


logger = Logger()
metrics = Metrics()
# Browsers post cross-origin (analytics.js sends text/plain to avoid a preflight; gzip and Basic auth need one).
app = APIGatewayHttpResolver(
    cors=CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Encoding"], max_age=600)
)


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body, separators=(",", ":")), headers=headers)


def _refused(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, Refused(code=code, message=message).model_dump(mode="json"), headers)


@app.get(
    "/openapi.json",
    summary="This document",
    operation_id="get_openapi_document",
    responses={200: {"description": "OpenAPI 3.1, as JSON"}},
)
def openapi_document() -> Response[str]:
    return Response(200, "application/json", app.get_openapi_json_schema(**api_doc.document_settings()))


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    """The document in Swagger UI (its viewer, so not in it)."""
    page = api_doc.swagger_page(app.get_openapi_json_schema(**api_doc.document_settings()))
    return Response(200, "text/html", page)


@app.get("/health", summary="Liveness", operation_id="health", responses={200: {"description": "the function answers"}})
def health() -> Response[dict[str, str]]:
    return _json(200, {"status": "ok"})


@app.get(
    "/v1/web/intercom.js",
    summary="Web mode's browser script (loads the Intercom Messenger)",
    operation_id="get_web_script",
    responses={
        200: {"description": "JavaScript", "content": {"application/javascript": {}}},
        304: {"description": "not modified"},
    },
)
def web_script() -> Response[str]:
    """Web mode's browser script. Revalidated daily by ETag; `?v=<the served version>` is immutable (any
    other `?v=` is answered with this version too, so it must stay revalidated)."""
    pinned = (app.current_event.query_string_parameters or {}).get("v") == WEB_SCRIPT_VERSION
    headers = {
        "ETag": WEB_SCRIPT_ETAG,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=31536000, immutable"
        if pinned
        else "public, max-age=86400, stale-while-revalidate=604800",
    }
    if WEB_SCRIPT_ETAG in (app.current_event.headers or {}).get("if-none-match", ""):
        return Response(304, headers=headers)
    return Response(200, "application/javascript; charset=utf-8", WEB_SCRIPT, headers=headers)


@app.post(
    "/v1/preview",
    summary="What events would do: the actions each fires and the Intercom requests each would send (none is sent)",
    responses={**PREVIEW_ANSWERS},
    operation_id="preview",
    security=SECURITY,
)
def preview(
    body: api_doc.IngestBody = None,  # type: ignore[assignment]  # documents the body; the layer parses it
) -> Response[Preview]:
    event = app.current_event
    received_at = datetime.fromtimestamp(event.request_context.time_epoch / 1000, tz=UTC)
    answer = ingest_service().preview(_raw_request(), received_at)
    return _json(answer.status, answer.body, answer.headers)


def _sender(kind: str, body: object) -> Callable[..., Response[Accepted]]:
    """The handler of one call route; `body` only documents what it reads (the layer parses it)."""

    def send(body: object = None) -> Response[Accepted]:
        return _handle(kind)

    send.__annotations__ = {"body": body, "return": Response[Accepted]}
    return send


for _route in api_doc.CALL_ROUTES:
    app.route(
        _route.path,
        method=list(_route.methods),
        summary=_route.summary,
        responses=INGEST_ANSWERS,
        security=_route.security,
        operation_id=_route.operation_id,
    )(_sender(_route.kind, _route.body))


def _raw_request() -> RawRequest:
    event = app.current_event
    return RawRequest(
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        source_ip=event.request_context.http.source_ip or "",
    )


def _handle(kind: str) -> Response:
    received_at = datetime.fromtimestamp(app.current_event.request_context.time_epoch / 1000, tz=UTC)
    answer: Answer = ingest_service().handle(kind, _raw_request(), received_at)
    for name, count in answer.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return _json(answer.status, answer.body, answer.headers)


@app.exception_handler(RequestError)
def request_error(exc: RequestError) -> Response:
    logger.info("request refused", extra={"status": exc.status, "code": exc.code})
    if exc.code == MISCONFIGURED:  # for the alarm: the operator must act, retries will not mend it
        metrics.add_metric(name=MISCONFIGURED, unit=MetricUnit.Count, value=1)
    # Our outage, or a browser key's address over its rate: resend later.
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.status in (429, 503) else None
    return _refused(exc.status, exc.code, exc.message, retry)


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response:
    """A bug or a misconfiguration (e.g. no write keys): SDKs retry a 500, and crash on a body without code."""
    logger.exception("unexpected error")
    return _refused(500, "internal_error", "internal error; the event was not accepted")


@app.not_found
def not_found(_: Exception) -> Response:
    return _not_found()


def _not_found() -> Response:
    return _refused(404, "not_found", "no such endpoint; SDKs post to /v1/batch")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric(name="requests", unit=MetricUnit.Count, value=1)
    answer = app.resolve(event, context)
    add_intercom_metrics(metrics, drain_intercom_calls())
    return answer
