"""The sandbox's HTTP face: Intercom's auth, headers, rate limits and error shapes, plus test knobs.

Every Intercom request is checked, in Intercom's order, for a bearer token (401), an acceptable
`Accept` (406), the rate-limit window (429 with X-RateLimit-*), then validated against the OpenAPI
description: a request that does not conform is answered 400 and recorded in `violations`, so a
test fails loudly on any request our client should not send.

Control endpoints (no auth), for tests and for looking at what arrived:
  GET  /_sandbox/state      contacts, companies, events, data attributes
  GET  /_sandbox/requests   every Intercom request: method, path, status, violations
  POST /_sandbox/config     knobs: latency_ms, search_lag_seconds, rate_limit, window_seconds, token, faults,
                            validate_requests
  POST /_sandbox/reset      empty workspace, default knobs
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..server import AnyMethodHandler, LocalServer
from . import spec
from .state import ApiError, Workspace

DEFAULT_TOKEN = "sandbox-token"
#: Intercom's default private-app budget, 10,000 a minute, is enforced per 10-second window.
DEFAULT_RATE_LIMIT = 1666
WINDOW_SECONDS = 10


class HangUp(Exception):
    """A `hang_up` fault: the connection closes with no answer."""


@dataclass
class Fault:
    """Answer matching requests with `status` (or hang `delay_seconds` first, or `hang_up` without an answer),
    `times` times or forever."""

    status: int = 500
    method: str | None = None
    path: str = ".*"  # a regular expression matched against the path
    rate: float = 1.0  # the share of matching requests that fail
    times: int | None = None
    delay_seconds: float = 0.0
    hang_up: bool = False  # close the connection unanswered, as a server closing a keep-alive connection does

    def applies(self, method: str, path: str, rng: random.Random) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != method:
            return False
        if not re.fullmatch(self.path, path) or rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class Knobs:
    token: str = DEFAULT_TOKEN
    latency_ms: float = 0.0
    search_lag_seconds: float = 0.0
    rate_limit: int = DEFAULT_RATE_LIMIT  # requests per window
    window_seconds: int = WINDOW_SECONDS
    faults: list[Fault] = field(default_factory=list)
    seed: int = 0
    validate_requests: bool = True  # off only for benchmarks: validation costs ~10 ms a request


_FAULT_BODIES = {
    429: ("rate_limit_exceeded", "The rate limit for the App has been exceeded"),
    500: ("server_error", "Unknown server error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Sorry, the API service is temporarily unavailable"),
    504: ("server_timeout", "Server timed out when making request"),
    401: ("unauthorized", "Access Token Invalid"),
}

Route = tuple[str, re.Pattern[str], Callable[..., Any]]


class Sandbox:
    """Start with `Sandbox(port=0).start()`; `.url` is the API base to give the destination."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.workspace = Workspace()
        self.knobs = Knobs()
        self.requests: list[dict[str, Any]] = []
        self._rng = random.Random(0)
        self._window_start = 0.0
        self._window_used = 0
        self._generation = 0
        self._server = LocalServer((host, port), _handler_class(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="intercom-sandbox", daemon=True)
        self.routes = self._routes()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        spec.preload()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- control --------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._generation += 1
            self.workspace = Workspace()
            self.knobs = Knobs()
            self.requests.clear()
            self._rng = random.Random(0)
            self._window_used = 0

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            unknown = set(changes) - set(Knobs.__dataclass_fields__)
            if unknown:
                raise ApiError(400, "parameter_invalid", f"unknown knobs: {sorted(unknown)}")
            for key, value in changes.items():
                setattr(self.knobs, key, [Fault(**fault) for fault in value] if key == "faults" else value)
            self.workspace.search_lag = float(self.knobs.search_lag_seconds)
            if "seed" in changes:
                self._rng = random.Random(self.knobs.seed)
            return asdict(self.knobs)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            state = self.workspace.snapshot()
            state["violations"] = [entry for entry in self.requests if entry["violations"]]
            return state

    # --- Intercom -------------------------------------------------------------------------------
    def _routes(self) -> list[Route]:
        w = lambda: self.workspace  # noqa: E731 - reset() swaps the workspace
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "/me", lambda **_: {"type": "admin", "id": "1", "app": {"type": "app", "region": "US"}}),
            ("POST", "/contacts", lambda body, **_: w().create_contact(body)),
            ("POST", "/contacts/search", lambda body, **_: w().search(body)),
            ("POST", "/contacts/merge", lambda body, **_: w().merge(body)),
            ("GET", "/contacts", lambda **_: {"type": "list", "data": w().snapshot()["contacts"]}),
            ("GET", "/contacts/find_by_external_id/(?P<external_id>[^/]+)", lambda external_id, **_: w().find_by_external_id(external_id)),
            ("GET", "/contacts/(?P<contact_id>[^/]+)", lambda contact_id, **_: w().get_contact(contact_id)),
            ("PUT", "/contacts/(?P<contact_id>[^/]+)", lambda contact_id, body, **_: w().update_contact(contact_id, body)),
            ("DELETE", "/contacts/(?P<contact_id>[^/]+)", lambda contact_id, **_: w().delete_contact(contact_id)),
            ("GET", "/contacts/(?P<contact_id>[^/]+)/companies", lambda contact_id, **_: w().contact_companies(contact_id)),
            ("POST", "/contacts/(?P<contact_id>[^/]+)/companies", lambda contact_id, body, **_: w().attach(contact_id, body)),
            ("DELETE", "/contacts/(?P<contact_id>[^/]+)/companies/(?P<company_id>[^/]+)", lambda contact_id, company_id, **_: w().detach(contact_id, company_id)),
            ("GET", "/contacts/(?P<contact_id>[^/]+)/tags", lambda contact_id, **_: w().contact_tags(contact_id)),
            ("POST", "/contacts/(?P<contact_id>[^/]+)/tags", lambda contact_id, body, **_: w().tag_contact(contact_id, body)),
            ("DELETE", "/contacts/(?P<contact_id>[^/]+)/tags/(?P<tag_id>[^/]+)", lambda contact_id, tag_id, **_: w().untag_contact(contact_id, tag_id)),
            ("GET", "/tags", lambda **_: w().list_tags()),
            ("POST", "/tags", lambda body, **_: w().post_tags(body)),
            ("POST", "/companies", lambda body, **_: w().upsert_company(body)),
            ("GET", "/companies", lambda query, **_: w().list_companies(query.get("company_id"))),
            ("POST", "/events", lambda body, **_: w().submit_event(body)),
            ("GET", "/events", lambda query, **_: self._events(query)),
            ("GET", "/data_attributes", lambda query, **_: w().list_attributes(query.get("model"))),
            ("POST", "/data_attributes", lambda body, **_: w().create_attribute(body)),
        ]  # fmt: skip
        return [(method, re.compile(pattern), action) for method, pattern, action in table]

    def _events(self, query: dict[str, str]) -> dict[str, Any]:
        wanted: dict[str, str] = {key: query[key] for key in ("user_id", "email") if key in query}
        if "intercom_user_id" in query:
            wanted["contact_id"] = query["intercom_user_id"]
        events = [e for e in self.workspace.events if all(e.get(k) == v for k, v in wanted.items())]
        return {"type": "event.list", "events": events, "pages": {}}

    def serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """One Intercom request → (status, headers, body). Runs under the lock: the workspace is one."""
        parts = urlsplit(target)
        path = parts.path  # routed as sent, like Intercom: `%2F` inside an id never splits a segment
        query = dict(parse_qsl(parts.query))
        with self.lock:
            knobs, generation = self.knobs, self._generation
            delay = knobs.latency_ms / 1000
            fault = next((f for f in knobs.faults if f.applies(method, path, self._rng)), None)
        if fault and fault.delay_seconds:
            delay += fault.delay_seconds
        if delay:
            time.sleep(delay)  # outside the lock: a slow call must not stall the others
        with self.lock:
            if generation != self._generation:  # reset while this call was delayed: it belongs to no workspace
                return 503, {}, b'{"type":"error.list","errors":[{"code":"service_unavailable","message":"reset"}]}'
            entry: dict[str, Any] = {
                "method": method, "path": path, "status": 0, "violations": [], "at": time.time(), "body": _json_or_none(raw)
            }  # fmt: skip
            self.requests.append(entry)
            try:
                rate_headers = self._admit(headers)
                try:
                    status, payload = self._dispatch(method, path, query, headers, raw, fault, entry)
                except ApiError as error:
                    error.headers = {**rate_headers, **error.headers}
                    raise
            except ApiError as error:
                entry["status"] = error.status
                body = {
                    "type": "error.list",
                    "request_id": str(uuid.uuid4()),
                    "errors": [{"code": error.code, "message": error.message}],
                }
                return error.status, error.headers, json.dumps(body).encode()
            entry["status"] = status
            return status, rate_headers, b"" if payload is None else json.dumps(payload).encode()

    def _admit(self, headers: dict[str, str]) -> dict[str, str]:
        """Auth, Accept and the rate-limit window, in that order (no rate headers without valid auth)."""
        if headers.get("authorization", "") != f"Bearer {self.knobs.token}":
            raise ApiError(401, "unauthorized", "Access Token Invalid")
        accept = headers.get("accept", "")
        if "application/json" not in accept and "*/*" not in accept:
            raise ApiError(
                406, "media_type_not_acceptable", "The Accept header should send a media type of application/json"
            )
        now, window = time.time(), self.knobs.window_seconds
        if now - self._window_start >= window:
            self._window_start, self._window_used = now - now % window, 0
        reset = int(self._window_start + window)
        self._window_used += 1
        remaining = max(self.knobs.rate_limit - self._window_used, 0)
        rate_headers = {
            "X-RateLimit-Limit": str(self.knobs.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }
        if self._window_used > self.knobs.rate_limit:
            message = f"Exceeded rate limit of {self.knobs.rate_limit} in {window}_seconds"
            raise ApiError(429, "rate_limit_exceeded", message, rate_headers)
        return rate_headers

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
        fault: Fault | None,
        entry: dict[str, Any],
    ) -> tuple[int, Any]:
        if fault and fault.hang_up:
            raise HangUp
        if fault and fault.status:
            raise ApiError(fault.status, *_FAULT_BODIES.get(fault.status, ("error", "Injected fault")))
        route = next(
            (
                (action, match)
                for m, pattern, action in self.routes
                if m == method and (match := pattern.fullmatch(path))
            ),
            None,
        )
        if route is None:
            raise ApiError(404, "not_found", "Resource Not Found")
        action, match = route
        spec_headers = {
            "Authorization": headers.get("authorization", ""),
            "Content-Type": headers.get("content-type", "application/json"),
        }
        if "intercom-version" in headers:
            spec_headers["Intercom-Version"] = headers["intercom-version"]
        if self.knobs.validate_requests:
            entry["violations"] = spec.violations(method, path, query, spec_headers, raw)
        if entry["violations"]:
            raise ApiError(400, "parameter_invalid", entry["violations"][0])
        body = json.loads(raw) if raw else {}
        params = {name: unquote(value) for name, value in match.groupdict().items()}  # each segment decoded alone
        result = action(body=body, query=query, **params)
        return (202, None) if (method, path) == ("POST", "/events") else (200, result)


def _handler_class(sandbox: Sandbox) -> type[AnyMethodHandler]:
    class Handler(AnyMethodHandler):
        def handle_request(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_sandbox/"):
                status, headers, body = self._control(raw)
            else:
                headers_in = {name.lower(): value for name, value in self.headers.items()}
                try:
                    status, headers, body = sandbox.serve(self.command, self.path, headers_in, raw)
                except HangUp:
                    self.close_connection = True
                    return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _control(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
            route = (self.command, urlsplit(self.path).path)
            try:
                if route == ("GET", "/_sandbox/state"):
                    result: Any = sandbox.snapshot()
                elif route == ("GET", "/_sandbox/requests"):
                    with sandbox.lock:
                        result = list(sandbox.requests)
                elif route == ("POST", "/_sandbox/config"):
                    result = sandbox.configure(json.loads(raw or b"{}"))
                elif route == ("POST", "/_sandbox/reset"):
                    sandbox.reset()
                    result = {"reset": True}
                else:
                    return 404, {}, b'{"error": "unknown control endpoint"}'
            except (ApiError, ValueError, TypeError) as exc:
                return 400, {}, json.dumps({"error": str(exc)}).encode()
            return 200, {}, json.dumps(result, indent=1).encode()

    return Handler


def _json_or_none(raw: bytes) -> Any:
    """A request's JSON body as sent, for tests that assert what was sent rather than what Intercom keeps."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
