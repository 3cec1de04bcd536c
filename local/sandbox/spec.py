"""Validates requests against Intercom's official OpenAPI description (vendored in ./openapi, MIT).

Relaxed in memory, never in the file: `create_data_event_request.metadata` and company
`custom_attributes` declare string-only values, yet Intercom documents and accepts numbers, booleans and
rich-link / monetary objects there (docs/intercom-api.md §7); and `POST /tags` offers its four payloads
as a `oneOf` whose schemas do not exclude each other (none forbids other properties, and a tag-company
payload is also a valid create-tag one), so the operation the description documents ("Tag Companies")
could never validate: it is read as an `anyOf`.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest

SPEC_PATH = Path(__file__).parent / "openapi" / "api.intercom.io.yaml"
#: Any server listed in the description; the path is what is validated.
_HOST = "https://api.intercom.io"
_lock = threading.Lock()


@cache
def _api() -> OpenAPI:
    with SPEC_PATH.open("rb") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    schemas = spec["components"]["schemas"]
    schemas["create_data_event_request"]["properties"]["metadata"].pop("additionalProperties", None)
    schemas["create_or_update_company_request"]["properties"]["custom_attributes"].pop("additionalProperties", None)
    tag_payloads = spec["paths"]["/tags"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    tag_payloads["anyOf"] = tag_payloads.pop("oneOf")
    # The published file has two unrelated undeclared path parameters; skip whole-spec validation.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def violations(method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> list[str]:
    """Everything the description says is wrong with this request (empty when it conforms)."""
    request = MockRequest(
        _HOST,
        method.lower(),
        path,
        args=query,
        headers=headers,
        data=body or None,
        content_type=headers.get("Content-Type", "application/json").split(";")[0],
    )
    with _lock:  # openapi-core's caches are not documented as thread-safe
        result = _api().unmarshal_request(request)
    return [_describe(error) for error in result.errors]


def _describe(error: Exception) -> str:
    details = [str(error)]
    for cause in getattr(error, "schema_errors", None) or []:
        details.append(str(getattr(cause, "message", cause)))
    cause = error.__cause__
    if cause is not None:
        details.append(str(cause))
        details.extend(str(getattr(inner, "message", inner)) for inner in getattr(cause, "schema_errors", []) or [])
    return "; ".join(dict.fromkeys(details))[:1000]


def preload() -> None:
    """Parse the description now (about a second) rather than on the first request."""
    _api()
