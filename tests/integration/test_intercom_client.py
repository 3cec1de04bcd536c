"""The Intercom client against the sandbox: headers, the error taxonomy, transport retries, timeouts."""

from __future__ import annotations

import socket
import time

import pytest
from intercom_destination.config.settings import DEFAULT_INTERCOM_VERSION
from intercom_destination.intercom.client import IntercomClient, new_pool
from intercom_destination.intercom.errors import (
    ConflictError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    UnknownAttributeError,
)
from intercom_destination.intercom.rate_limit import RateLimitState
from urllib3.util import Timeout

from local.sandbox import DEFAULT_TOKEN, SandboxControl
from local.stack import Stack


def client(base: str, token: str = DEFAULT_TOKEN, read: float = 1.0) -> IntercomClient:
    return IntercomClient(
        new_pool(2), base, lambda: token, DEFAULT_INTERCOM_VERSION, Timeout(connect=0.5, read=read), RateLimitState()
    )


@pytest.fixture
def intercom(stack: Stack, sandbox: SandboxControl) -> IntercomClient:
    return client(stack.intercom_api_base)


def test_create_then_conflict_names_the_existing_contact(intercom: IntercomClient) -> None:
    created = intercom.create_contact({"role": "user", "external_id": "x1", "email": "x1@example.com"})
    with pytest.raises(ConflictError) as conflict:
        intercom.create_contact({"role": "user", "external_id": "x1"})
    assert conflict.value.existing_id == created.id
    assert intercom.find_user("x1").id == created.id


def test_not_found_and_merged(intercom: IntercomClient) -> None:
    with pytest.raises(NotFoundError):
        intercom.find_user("nobody")
    lead = intercom.create_contact({"role": "lead", "email": "m@example.com"})
    user = intercom.create_contact({"role": "user", "external_id": "m", "email": "m@example.com"})
    intercom.merge_lead(lead.id, user.id)
    with pytest.raises(NotFoundError) as gone:
        intercom.update_contact(lead.id, {"name": "x"})
    assert (gone.value.status, gone.value.code) == (410, "contact_merged")


def test_unknown_custom_attribute_and_bad_parameter_are_permanent(intercom: IntercomClient) -> None:
    with pytest.raises(UnknownAttributeError):
        intercom.create_contact({"role": "user", "external_id": "y", "custom_attributes": {"nope": 1}})
    with pytest.raises(PermanentError) as bad:
        intercom.attach_company(intercom.create_contact({"role": "user", "external_id": "z"}).id, "missing")
    assert (bad.value.status, bad.value.code, bad.value.retryable) == (404, "company_not_found", False)


def test_a_wrong_token_is_retryable_so_nothing_is_dropped(stack: Stack, sandbox: SandboxControl) -> None:
    with pytest.raises(RetryableError) as refused:
        client(stack.intercom_api_base, token="revoked").find_user("x")
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")


def test_transient_503s_are_retried_by_the_transport(intercom: IntercomClient, sandbox: SandboxControl) -> None:
    sandbox.configure(faults=[{"status": 503, "path": "/contacts", "times": 2}])
    intercom.create_contact({"role": "user", "external_id": "r"})
    assert [r["status"] for r in sandbox.requests()] == [503, 503, 200]
    calls = intercom.calls.drain()  # every attempt is in the call log the handlers turn into metrics
    assert [call.status for call in calls] == [503, 503, 200]
    assert all(0 < call.seconds < 1 for call in calls)
    assert intercom.calls.drain() == []


def test_persistent_500_is_retryable_with_intercoms_message(intercom: IntercomClient, sandbox: SandboxControl) -> None:
    sandbox.configure(faults=[{"status": 500}])
    with pytest.raises(RetryableError) as failed:
        intercom.create_contact({"role": "user", "external_id": "r"})
    assert (failed.value.status, failed.value.code, failed.value.message) == (
        500,
        "server_error",
        "Unknown server error",
    )


def test_a_hanging_call_times_out_once_not_per_retry(stack: Stack, sandbox: SandboxControl) -> None:
    sandbox.configure(faults=[{"status": 0, "delay_seconds": 2, "times": 1}])
    started = time.monotonic()
    with pytest.raises(RetryableError) as timed_out:
        client(stack.intercom_api_base, read=0.3).find_user("slow")
    assert time.monotonic() - started < 1.5
    assert timed_out.value.code == "ReadTimeoutError"


def test_a_connection_closed_without_an_answer_is_resent_once_on_a_new_one(
    intercom: IntercomClient, sandbox: SandboxControl
) -> None:
    """A pooled keep-alive connection that the server closed as it was reused: not Intercom failing."""
    sandbox.configure(faults=[{"hang_up": True, "method": "POST", "times": 1}])
    intercom.create_contact({"role": "user", "external_id": "h"})
    assert [(r["method"], r["status"]) for r in sandbox.requests()] == [("POST", 0), ("POST", 200)]


def test_a_second_hang_up_is_retryable_and_not_resent_again(intercom: IntercomClient, sandbox: SandboxControl) -> None:
    sandbox.configure(faults=[{"hang_up": True}])
    with pytest.raises(RetryableError) as dropped:
        intercom.create_contact({"role": "user", "external_id": "h"})
    assert dropped.value.code == "ProtocolError"
    assert len(sandbox.requests()) == 2


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableError):
        client(f"http://127.0.0.1:{port}").find_user("x")


def test_429_records_the_window_and_later_calls_wait_without_calling(
    intercom: IntercomClient, sandbox: SandboxControl
) -> None:
    sandbox.configure(faults=[{"status": 429, "times": 1}])
    with pytest.raises(RateLimitedError):
        intercom.find_user("x")
    with pytest.raises(RateLimitedError):
        intercom.find_user("x")
    assert len(sandbox.requests()) == 1


@pytest.mark.parametrize("external_id", ["first.last", "a/b", "...", "%2E%2E", "über"])
def test_ids_with_dots_slashes_and_escapes_stay_one_path_segment(
    intercom: IntercomClient, sandbox: SandboxControl, external_id: str
) -> None:
    created = intercom.create_contact({"role": "user", "external_id": external_id})
    assert intercom.find_user(external_id).id == created.id
    (request,) = [r for r in sandbox.requests() if r["method"] == "GET"]
    assert request["path"].count("/") == 3  # /contacts/find_by_external_id/<one segment>


def test_a_dot_segment_id_never_reaches_another_path(intercom: IntercomClient, sandbox: SandboxControl) -> None:
    with pytest.raises(NotFoundError):
        intercom.find_user("..")
    (request,) = sandbox.requests()
    assert request["path"] == "/contacts/find_by_external_id/%2E%2E"
