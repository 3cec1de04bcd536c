"""The real analytics SDKs as clients, changed only by `host`: what they send reaches Intercom."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customerio.analytics import Client as CustomerIoClient
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from local.sandbox import SandboxControl
from local.stack import Stack
from tests.conftest import CIO_KEY, WRITE_KEY

#: The SDKs are untyped; this names what the tests hold.
Client = Any


def segment(stack: Stack, errors: list[Any], **options: Any) -> Client:
    return SegmentClient(WRITE_KEY, host=stack.url, on_error=lambda e, batch: errors.append(e), **options)


def customerio(stack: Stack, errors: list[Any], **options: Any) -> Client:
    # An sk_ key: the SDK sends it as a Bearer token (Basic auth for other keys).
    return CustomerIoClient(CIO_KEY, host=stack.url, on_error=lambda e, batch: errors.append(e), **options)


def rudderstack(stack: Stack, errors: list[Any], **options: Any) -> Client:
    # A fork of Segment's SDK: the same calls, identify's traits sent in context.traits, gzip by default.
    return RudderClient(WRITE_KEY, host=stack.url, on_error=lambda e, batch: errors.append(e), **options)


SDKS: dict[str, Callable[..., Client]] = {
    "segment-analytics-python": segment,
    "customerio-cdp-analytics": customerio,
    "rudder-sdk-python": rudderstack,
}
#: Each SDK's client class and the module that dates its events (for the clock test).
PACKAGES = {
    "segment-analytics-python": (SegmentClient, "segment.analytics"),
    "customerio-cdp-analytics": (CustomerIoClient, "customerio.analytics"),
    "rudder-sdk-python": (RudderClient, "rudderstack.analytics"),
}
MODES: dict[str, dict[str, Any]] = {
    "batched": {"upload_size": 100},
    "sync": {"sync_mode": True},
    "gzip": {"upload_size": 100, "gzip": True},
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_identify_group_track_reach_intercom(stack: Stack, sandbox: SandboxControl, sdk: str, mode: str) -> None:
    errors: list[Any] = []
    client = SDKS[sdk](stack, errors, max_retries=0, **MODES[mode])
    client.identify(
        "sdk-user",
        {"email": "sdk@example.com", "firstName": "Sam", "lastName": "Dee", "plan": "pro", "createdAt": 1700000000},
    )
    client.group("sdk-user", "sdk-co", {"name": "SDK Co", "employees": 12, "industry": "Software"})
    client.track("sdk-user", "Order Completed", {"revenue": 42.5, "currency": "EUR", "order_id": "o-9"})
    client.page("sdk-user", "Docs", "Pricing", {"url": "https://example.com/pricing"})
    if mode != "sync":  # sync mode posts each call at once (and raises on failure)
        client.flush()
        client.join()
    assert errors == []

    state = sandbox.state()
    (contact,) = state["contacts"]
    assert contact["external_id"] == "sdk-user"
    assert (contact["email"], contact["name"], contact["signed_up_at"]) == ("sdk@example.com", "Sam Dee", 1700000000)
    assert contact["custom_attributes"] == {"plan": "pro"}
    (company,) = state["companies"]
    assert (company["company_id"], company["name"], company["size"], company["industry"]) == (
        "sdk-co",
        "SDK Co",
        12,
        "Software",
    )
    assert company["user_count"] == 1
    (event,) = state["events"]
    assert event["event_name"] == "Order Completed"
    assert event["contact_id"] == contact["id"]
    assert event["metadata"] == {"price": {"amount": 4250, "currency": "EUR"}, "order_id": "o-9"}


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_wrong_key_is_refused_and_reported_to_the_sdk(stack: Stack, sandbox: SandboxControl, sdk: str) -> None:
    errors: list[Any] = []
    options: dict[str, Any] = {"max_retries": 0}
    client = PACKAGES[sdk][0]("wrong-key", host=stack.url, on_error=lambda e, batch: errors.append(e), **options)
    client.identify("nobody", {"email": "n@example.com"})
    client.flush()
    client.join()
    assert [(e.status, e.code) for e in errors] == [(401, "unauthorized")]
    assert sandbox.state()["contacts"] == []


class _Clock:
    """A device clock off by `skew`: what the SDK module sees as datetime."""

    @staticmethod
    def shifted(skew: timedelta) -> type[datetime]:
        class Shifted(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return cls.fromtimestamp((datetime.now(UTC) + skew).timestamp(), tz)

            @classmethod
            def utcnow(cls) -> Any:
                return cls.now(UTC).replace(tzinfo=None)

        return Shifted


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_devices_with_wrong_clocks_neither_win_forever_nor_lose(
    stack: Stack, sandbox: SandboxControl, sdk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device 400 days ahead, then one with a true clock, then one a year behind identify the same user, in
    that order: each later identify wins, and no last_seen_at Intercom gets lies in the future."""
    package = PACKAGES[sdk][1]
    errors: list[Any] = []
    for skew, plan in ((timedelta(days=400), "ahead"), (timedelta(0), "true"), (timedelta(days=-365), "behind")):
        for module in ("client", "request"):  # the event's timestamp, and sentAt
            monkeypatch.setattr(f"{package}.{module}.datetime", _Clock.shifted(skew))
        client = SDKS[sdk](stack, errors, max_retries=0, sync_mode=True)
        client.identify("clocked", {"plan": plan})
        (contact,) = sandbox.state()["contacts"]
        assert contact["custom_attributes"] == {"plan": plan}, skew
        assert abs(contact["last_seen_at"] - time.time()) < 120, skew
    assert errors == []
