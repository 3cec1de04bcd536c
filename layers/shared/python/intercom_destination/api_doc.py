"""The ingest API's OpenAPI document: the annotations its routes carry, the document's settings and the
Swagger UI page. Powertools resolves route annotations on each route's first request, so these OpenAPI
models are part of the cold start whatever (~50 ms here, measured by `make bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBase, HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from .answers import SECURITY
from .events import Alias, Batch, Call, Group, Identify, Page, Screen, Track
from .inbound import BATCH_PATHS, SINGLE_CALL_PATHS, WEBHOOK_PATH

#: The `kind` of `/v1/{kind}`.
CallPath = Annotated[
    str,
    PathParam(
        description="a batch, one call of that type, or `webhook`: a batch, an array or one call of any type",
        json_schema_extra={"enum": sorted([*BATCH_PATHS, *SINGLE_CALL_PATHS, WEBHOOK_PATH])},
    ),
]
#: What `/v1/{kind}` reads (the layer parses it: bounded, gzip, one answer per event).
IngestBody = Annotated[
    Batch | list[Call] | Identify | Track | Page | Screen | Group | Alias,
    Body(
        description='a batch (`{"batch": [...]}`, or on a batch path a bare array of calls), or one call '
        "(its `type` may be left out: the path gives it)"
    ),
]


def document_settings() -> dict[str, Any]:
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
    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        document.replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
