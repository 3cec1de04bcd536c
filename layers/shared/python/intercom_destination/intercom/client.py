"""The one Intercom REST client: pooled urllib3, timeouts, transport retries, rate-limit headers; Intercom's
answers turned into the error taxonomy of errors.py."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, cast
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util import Retry, Timeout

from intercom_destination.intercom.calls import CallLog
from intercom_destination.intercom.errors import (
    ConflictError,
    IntercomError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    UnknownAttributeError,
)
from intercom_destination.intercom.rate_limit import RateLimitState
from intercom_destination.mapping.plans import CompanyBody, ContactBody, EventBody

_CONFLICT_ID = re.compile(r"already exists with id=([0-9A-Za-z]+)")
_RETRYABLE_400_CODES = frozenset({"unique_company_constraint"})


@dataclass(frozen=True)
class Contact:
    id: str
    role: str
    external_id: str | None
    email: str | None


#: Transport-level retries: connection errors and 502/503/504 twice with a short backoff. A read
#: timeout is not retried here, so one call costs at most one read timeout.
TRANSPORT_RETRY = Retry(
    total=2,
    read=0,
    backoff_factor=0.1,
    status_forcelist=(502, 503, 504),
    allowed_methods=None,  # POST is safe to repeat: upserts, 409 recovery, and event de-duplication
    respect_retry_after_header=False,
    raise_on_status=False,
)
#: Below this much time left, a call is not started: it could not finish.
_MIN_CALL_SECONDS = 0.05
#: The code of a call not made for want of time (untried, not failed: a replay does not count it).
DEFERRED = "deferred"
_deadline: ContextVar[float | None] = ContextVar("intercom_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every Intercom call made inside ends by `at` (time.monotonic()): its connect and read timeouts, and
    its transport retries, come out of the time left. Per thread: each delivery thread sets its own."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def new_pool(max_connections: int) -> urllib3.PoolManager:
    """One pool per process, reused across warm invocations; retries are the client's (TRANSPORT_RETRY)."""
    return urllib3.PoolManager(num_pools=4, maxsize=max_connections, block=False, retries=False)


class IntercomClient:
    def __init__(
        self,
        pool: urllib3.PoolManager,
        api_base: str,
        token: Callable[[], str],
        version: str,
        timeout: Timeout,
        rate_limit: RateLimitState,
        wait_for_window: bool = False,
    ) -> None:
        self._pool = pool
        self._base = api_base.rstrip("/")
        self._token = token  # read per request: a rotated token is picked up without a cold start
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Intercom-Version": version,
            "User-Agent": "intercom-destination/0.1",
        }
        self._timeout = timeout
        self.rate_limit = rate_limit
        self._wait_for_window = wait_for_window  # a backfill waits out a spent window; live calls never do
        self.calls = CallLog()

    # --- contacts -----------------------------------------------------------------------------
    def create_contact(self, body: ContactBody) -> Contact:
        return _contact(self._request("POST", "/contacts", body))

    def update_contact(self, contact_id: str, body: ContactBody) -> Contact:
        return _contact(self._request("PUT", f"/contacts/{_segment(contact_id)}", body))

    def get_contact(self, contact_id: str) -> Contact:
        return _contact(self._request("GET", f"/contacts/{_segment(contact_id)}"))

    def delete_contact(self, contact_id: str) -> bool:
        """Permanent deletion; False when the contact is gone already (deleted, or merged away: 404/410)."""
        try:
            self._request("DELETE", f"/contacts/{_segment(contact_id)}")
        except NotFoundError:
            return False
        return True

    def find_user(self, external_id: str) -> Contact:
        """Users only (Intercom's lookup ignores leads); raises NotFoundError."""
        return _contact(self._request("GET", f"/contacts/find_by_external_id/{_segment(external_id)}"))

    def search_by_email(self, email: str, role: str | None = None) -> list[Contact]:
        query: dict[str, Any] = {"field": "email", "operator": "=", "value": email}
        if role:
            query = {"operator": "AND", "value": [query, {"field": "role", "operator": "=", "value": role}]}
        page = self._request("POST", "/contacts/search", {"query": query, "pagination": {"per_page": 50}})
        return [_contact(item) for item in page.get("data", [])]

    def merge_lead(self, lead_id: str, user_id: str, vouched: bool = False) -> Contact:
        """`vouched`: we know the two are one person (an alias, or the visitor's own identify), so Intercom's
        check that they share an email or phone (Intercom-Version 2.16) is skipped."""
        body: dict[str, Any] = {"from": lead_id, "into": user_id}
        if vouched:
            body["skip_duplicate_validation"] = True
        return _contact(self._request("POST", "/contacts/merge", body))

    # --- companies ----------------------------------------------------------------------------
    def upsert_company(self, body: CompanyBody) -> str:
        """Create-or-update by company_id; returns Intercom's company `id`, which attach needs."""
        return str(self._request("POST", "/companies", body)["id"])

    def attach_company(self, contact_id: str, company_intercom_id: str) -> None:
        self._request("POST", f"/contacts/{_segment(contact_id)}/companies", {"id": company_intercom_id})

    def find_company(self, company_id: str) -> str:
        """Intercom's `id` of the company with our `company_id` (GET /companies?company_id=); NotFoundError
        if it has none."""
        return str(self._request("GET", "/companies", query={"company_id": company_id})["id"])

    def detach_company(self, contact_id: str, company_intercom_id: str) -> None:
        self._request("DELETE", f"/contacts/{_segment(contact_id)}/companies/{_segment(company_intercom_id)}")

    # --- tags -----------------------------------------------------------------------------------
    def list_tags(self) -> dict[str, str]:
        """The workspace's tags: name → id."""
        return {str(tag["name"]): str(tag["id"]) for tag in self._request("GET", "/tags").get("data", [])}

    def create_tag(self, name: str) -> str:
        """Create (or find: names are case-insensitive) the tag; its id."""
        return str(self._request("POST", "/tags", {"name": name})["id"])

    def tag_contact(self, contact_id: str, tag_id: str) -> None:
        self._request("POST", f"/contacts/{_segment(contact_id)}/tags", {"id": tag_id})

    def untag_contact(self, contact_id: str, tag_id: str) -> None:
        self._request("DELETE", f"/contacts/{_segment(contact_id)}/tags/{_segment(tag_id)}")

    def tag_company(self, name: str, company_id: str, untag: bool = False) -> None:
        """Tag (or untag) the company with our `company_id`; the tag is created if the workspace lacks it."""
        company: dict[str, Any] = {"company_id": company_id} | ({"untag": True} if untag else {})
        self._request("POST", "/tags", {"name": name, "companies": [company]})

    # --- events and data attributes -------------------------------------------------------------
    def submit_event(self, body: EventBody, contact: dict[str, str]) -> None:
        """202 with an empty body; Intercom drops a repeat of the same contact + name + created_at."""
        self._request("POST", "/events", {**body, **contact})

    def list_attributes(self, model: str) -> list[dict[str, Any]]:
        page = self._request("GET", "/data_attributes", query={"model": model, "include_archived": "false"})
        return cast(list[dict[str, Any]], page.get("data", []))

    def create_attribute(self, model: str, name: str, data_type: str, messenger_writable: bool = False) -> None:
        """`messenger_writable`: the Messenger (web mode) may set it too; Intercom's default is no."""
        body: dict[str, Any] = {"name": name, "model": model, "data_type": data_type}
        if messenger_writable:
            body["messenger_writable"] = True
        self._request("POST", "/data_attributes", body)

    # --- transport ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
        if not self._wait_for_window:  # live calls: straight through
            return self._call(method, path, body, query)
        return self.rate_limit.waiting_out(partial(self._call, method, path, body, query), self._can_wait)

    def _call(self, method: str, path: str, body: Any, query: dict[str, str] | None) -> dict[str, Any]:
        self.rate_limit.check(time.time())
        url = self._base + path
        if query:
            url += "?" + urlencode(query)
        response = self._send(
            method,
            url,
            None if body is None else json.dumps(body, allow_nan=False).encode(),
            {**self._headers, "Authorization": f"Bearer {self._token()}"},
        )
        self.rate_limit.observe(response.headers)
        if response.status < 300:
            return _json(response.data) if response.data else {}
        raise self._error(response)

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        """urllib3's Retry decides what to retry; this loop keeps every attempt, and every backoff, inside
        the deadline (urllib3's own loop would give each retry the full timeouts again).

        A connection closed with no answer (a pooled keep-alive connection the server or a load balancer
        closed as it was reused) is resent once at once, on a new connection: Retry counts it as a read
        error, which `read=0` never retries, and every call here is safe to repeat."""
        retry, resent = TRANSPORT_RETRY, False
        while True:
            timeout = self._timeout_left()
            started = time.monotonic()
            try:
                response = self._pool.request(method, url, body=body, headers=headers, timeout=timeout, retries=False)
            except TransportError as exc:
                self.calls.record(0, time.monotonic() - started)
                if isinstance(exc, ProtocolError) and not resent:
                    resent = True
                    continue
                try:
                    retry = retry.increment(method, url, error=exc)
                except MaxRetryError:
                    raise RetryableError(None, type(exc).__name__, _describe_transport(exc)) from None
                if not self._can_wait(retry.get_backoff_time()):
                    raise RetryableError(None, type(exc).__name__, _describe_transport(exc)) from None
            else:
                self.calls.record(response.status, time.monotonic() - started)
                if not retry.is_retry(method, response.status):
                    return response
                try:
                    retry = retry.increment(method, url, response=response)
                except MaxRetryError:
                    return response
                if not self._can_wait(retry.get_backoff_time()):
                    return response
                response.drain_conn()
            time.sleep(retry.get_backoff_time())

    def _timeout_left(self) -> Timeout:
        """The configured timeouts, cut to the time left before the deadline (if one is set)."""
        at = _deadline.get()
        if at is None:
            return self._timeout
        left = at - time.monotonic()
        if left < _MIN_CALL_SECONDS:
            raise RetryableError(None, DEFERRED, "not delivered within the time budget")
        connect, read = self._timeout.connect_timeout, self._timeout.read_timeout
        return Timeout(
            connect=min(connect, left) if isinstance(connect, int | float) else left,
            read=min(read, left) if isinstance(read, int | float) else left,
            total=left,
        )

    @staticmethod
    def _can_wait(seconds: float) -> bool:
        at = _deadline.get()
        return at is None or time.monotonic() + seconds + _MIN_CALL_SECONDS < at

    def _error(self, response: urllib3.BaseHTTPResponse) -> IntercomError:
        payload = _json(response.data)
        first = (payload.get("errors") or [{}])[0] if isinstance(payload.get("errors"), list) else {}
        code = str(first.get("code") or f"http_{response.status}")
        message = str(first.get("message") or response.reason or "")
        request_id = payload.get("request_id")
        status = response.status
        if status == 429:
            reset = _float(response.headers.get("X-RateLimit-Reset")) or time.time() + 10
            self.rate_limit.spent(reset)
            return RateLimitedError(reset, message)
        if status == 409:
            match = _CONFLICT_ID.search(message)
            if match:
                return ConflictError(match.group(1), message, request_id)
            return RetryableError(status, code, message, request_id)  # a race Intercom resolves shortly
        if status == 404:
            return NotFoundError(status, code, message, request_id)
        if status == 410:
            return NotFoundError(status, code, message, request_id)  # merged away: look the contact up again
        if status == 400 and "Custom attribute" in message and "does not exist" in message:
            return UnknownAttributeError(status, code, message, request_id)
        if status in (401, 403, 408) or status >= 500 or code in _RETRYABLE_400_CODES:
            return RetryableError(status, code, message, request_id)
        return PermanentError(status, code, message, request_id)


def _segment(value: str) -> str:
    """One URL path segment, every reserved character and every dot encoded: an id of `..` must never
    become a dot-segment that a server or proxy resolves to another path."""
    return quote(value, safe="").replace(".", "%2E")


def _contact(payload: dict[str, Any]) -> Contact:
    return Contact(
        id=str(payload["id"]),
        role=str(payload.get("role") or "user"),
        external_id=payload.get("external_id"),
        email=payload.get("email"),
    )


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _describe_transport(exc: Exception) -> str:
    """urllib3's messages can include the URL; they never include headers, so no token leaks."""
    return str(exc)[:300]
