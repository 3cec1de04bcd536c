"""The ingest API's OpenAPI document: the annotations its routes carry, the document's settings and the
Swagger UI page. The document's own models and the Swagger UI are imported only when the document is
asked for (`/openapi.json`, `/docs`): about 40 ms of every cold start otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body

from intercom_destination.intake.answers import SECURITY
from intercom_destination.intake.events import Alias, Batch, Call, Group, Identify, Page, Screen, Track
from intercom_destination.intake.inbound import BATCH_PATHS, SINGLE_CALL_PATHS, WEBHOOK_PATH

_SINGLE_BODIES: dict[str, Any] = {
    "identify": Identify, "track": Track, "page": Page, "screen": Screen, "group": Group, "alias": Alias
}  # fmt: skip
#: What the webhook and the preview read: a batch, an array, or one call of any type.
IngestBody = Annotated[
    Batch | list[Call] | Identify | Track | Page | Screen | Group | Alias,
    Body(description='a batch (`{"batch": [...]}`), an array of calls, or one call of any type'),
]
_BATCH_BODY = Annotated[
    Batch | list[Call], Body(description='`{"batch": [...]}` (up to 2,500 calls, 500 KB), or a bare array of calls')
]


@dataclass(frozen=True)
class CallRoute:
    """One path the SDKs post calls to, with the body it reads, as the document describes it."""

    kind: str  # the path's last segment, which ingest reads
    body: Any  # the annotation that documents the body (the layer parses it: bounded, gzip, per event)
    summary: str
    operation_id: str
    methods: tuple[str, ...] = ("POST",)
    signed: bool = False  # a pipeline's webhook may sign its body (X-Signature)

    @property
    def path(self) -> str:
        return f"/v1/{self.kind}"

    @property
    def security(self) -> list[dict[str, list[str]]]:
        return [*SECURITY, {"webhookSignature": []}] if self.signed else SECURITY


def _single(kind: str, call: str) -> CallRoute:
    described = Body(description=f"one {call} call (its `type` may be left out)")
    body = Annotated[_SINGLE_BODIES[call], described]  # type: ignore[valid-type]  # built at run time, per path
    short = f" (short path, as analytics.js posts it; the same as /v1/{call})" if kind != call else ""
    return CallRoute(kind, body, f"Send one {call} call{short}", f"send_{kind}")


def _batch(kind: str) -> CallRoute:
    alias = "" if kind == "batch" else " (the same as /v1/batch)"
    return CallRoute(kind, _BATCH_BODY, f"Send a batch of calls{alias}", f"send_{kind}")


#: Every path that takes calls, each with its own body, so a generated client can call each by name.
CALL_ROUTES: tuple[CallRoute, ...] = (
    *(_batch(kind) for kind in sorted(BATCH_PATHS, key=lambda kind: (kind != "batch", kind))),
    *(_single(kind, call) for kind, call in SINGLE_CALL_PATHS.items()),
    *(
        CallRoute(
            WEBHOOK_PATH,
            IngestBody,
            "Send calls as a pipeline's webhook destination",
            f"send_webhook_{method.lower()}",
            (method,),
            signed=True,
        )
        for method in ("POST", "PUT", "PATCH")
    ),
)


def document_settings() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBase, HTTPBearer

    return {
        "title": "intercom-destination",
        "version": "1",
        "description": "Segment / Customer.io Data Pipelines HTTP API, delivered to Intercom. "
        "Authenticate with the write key as the Basic user name (empty password), as a Bearer token, "
        "or as `writeKey` in the body. Bodies may be gzip-compressed (`Content-Encoding: gzip`).",
        "security_schemes": {
            "writeKeyBasic": HTTPBase(scheme="basic"),
            "writeKeyBearer": HTTPBearer(),
            "webhookSignature": APIKey(
                **{"in": APIKeyIn.header},
                name="X-Signature",
                description="`/v1/webhook` only: hex HMAC-SHA1 of the body under a webhook secret",
            ),
        },
        "security": SECURITY,
    }


def swagger_page(document: str) -> str:
    """Swagger UI with the document inlined, from the copy powertools ships (no CDN)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        document.replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
