"""track → Submit Data Event: names, times, contact, metadata and price, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import InvalidCallError, Track, parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.plans import ContactRef, Skip, TrackPlan
from intercom_destination.mapping.track import event_metadata, event_name

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def tracked(event: dict[str, Any]) -> TrackPlan | Skip:
    call = parse_call({"type": "track", "event": "Signed Up", **event})
    assert isinstance(call, Track)
    result = map_call(call, RECEIVED, LeadHandling.LEAD)
    assert isinstance(result, TrackPlan | Skip)
    return result


def test_event_by_user_id() -> None:
    plan = tracked({"userId": "u1", "timestamp": 1795168000123, "properties": {"plan": "pro"}})
    assert isinstance(plan, TrackPlan)
    assert plan.contact == ContactRef(external_id="u1")
    assert plan.event == {"event_name": "Signed Up", "created_at": 1795168000, "metadata": {"plan": "pro"}}


def test_email_only_event_addresses_the_contact_by_email() -> None:
    plan = tracked({"anonymousId": "a", "context": {"traits": {"email": "ada@example.com"}}})
    assert isinstance(plan, TrackPlan)
    assert plan.contact == ContactRef(email="ada@example.com")


def test_anonymous_event_is_skipped() -> None:
    assert isinstance(tracked({"anonymousId": "a"}), Skip)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Order Completed", "Order Completed"),
        ("order.completed", "order-completed"),
        ("$purchase", "-purchase"),
        ("  padded  ", "padded"),
        ("Ünïcödé 注文", "Ünïcödé 注文"),
        ("x" * 300, "x" * 255),
    ],
)
def test_event_name(name: str, expected: str) -> None:
    assert event_name(name) == expected


@pytest.mark.parametrize(
    ("revenue", "currency", "price"),
    [
        (19.99, None, {"amount": 1999, "currency": "USD"}),
        ("19.99", "eur", {"amount": 1999, "currency": "EUR"}),
        (0.285, "USD", {"amount": 29, "currency": "USD"}),
        (1.005, "USD", {"amount": 101, "currency": "USD"}),
        (0, "USD", {"amount": 0, "currency": "USD"}),
        (1500, "JPY", {"amount": 1500, "currency": "JPY"}),
        (1.2345, "KWD", {"amount": 1235, "currency": "KWD"}),
        (100, "USD", {"amount": 10000, "currency": "USD"}),
    ],
)
def test_revenue_becomes_a_price_in_minor_units(revenue: Any, currency: str | None, price: dict[str, Any]) -> None:
    properties = {"revenue": revenue} | ({"currency": currency} if currency else {})
    assert event_metadata(properties) == {"price": price}


@pytest.mark.parametrize(
    ("revenue", "price"),
    [
        ({"amount": 1999, "currency": "EUR"}, {"amount": 1999, "currency": "EUR"}),
        ({"amount": 1999, "currency": "eur"}, {"amount": 1999, "currency": "EUR"}),
        ({"amount": 0, "currency": "JPY"}, {"amount": 0, "currency": "JPY"}),
        ({"amount": 1999.0, "currency": "USD"}, {"amount": 1999, "currency": "USD"}),  # an SDK's float of an int
    ],
)
def test_a_revenue_shaped_as_intercom_money_is_the_price_as_given(revenue: Any, price: dict[str, Any]) -> None:
    """Already in minor units: never multiplied again, and its own currency wins over `properties.currency`."""
    plan = tracked({"userId": "u1", "properties": {"revenue": revenue, "currency": "GBP", "sku": "a"}})
    assert isinstance(plan, TrackPlan)
    assert plan.event["metadata"] == {"price": price, "sku": "a"}


@pytest.mark.parametrize(
    ("revenue", "fields"),
    [
        ({"amount": 19.99, "currency": "EUR"}, ["properties.revenue.amount"]),
        ({"amount": -1, "currency": "EUR"}, ["properties.revenue.amount"]),
        ({"amount": True, "currency": "EUR"}, ["properties.revenue.amount"]),
        ({"amount": 2**53, "currency": "EUR"}, ["properties.revenue.amount"]),
        ({"amount": "1999", "currency": "EUR"}, ["properties.revenue.amount"]),
        ({"amount": 1999}, ["properties.revenue.currency"]),
        ({"amount": 1999, "currency": "euro"}, ["properties.revenue.currency"]),
        ({"currency": "EUR", "total": 5}, ["properties.revenue.total", "properties.revenue.amount"]),
        ({"amount": None, "currency": None}, ["properties.revenue.amount", "properties.revenue.currency"]),
    ],
)
def test_a_malformed_money_revenue_is_refused_field_by_field(revenue: Any, fields: list[str]) -> None:
    with pytest.raises(InvalidCallError) as refused:
        parse_call({"type": "track", "event": "Paid", "userId": "u1", "properties": {"revenue": revenue}})
    assert [error.field for error in refused.value.errors] == fields


@pytest.mark.parametrize("revenue", [{}, {"total": 5}])
def test_an_object_revenue_naming_neither_amount_nor_currency_is_not_money_and_is_dropped(revenue: Any) -> None:
    plan = tracked({"userId": "u1", "properties": {"revenue": revenue, "k": "v"}})
    assert isinstance(plan, TrackPlan)
    assert plan.event["metadata"] == {"k": "v"}


@pytest.mark.parametrize("revenue", [-5, "n/a"])
def test_revenue_that_is_not_a_price_stays_a_plain_value(revenue: Any) -> None:
    assert event_metadata({"revenue": revenue}) == {"revenue": revenue}


def test_metadata_flattening_and_limits() -> None:
    metadata = event_metadata({
        "revenue": 5,
        "email": "not-metadata@example.com",
        "order": {"id": "o1", "shipping": {"city": "Oslo"}},
        "link": {"url": "https://example.com/o1", "value": "Order o1"},
        "amount": {"amount": 500, "currency": "eur"},
        "skus": ["a", "b"],
        "lines": [{"sku": "a"}],
        "renewal_date": "2027-01-01T00:00:00Z",
        "empty": "",
        "none": None,
        "note": "y" * 300,
        "k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6,
    })  # fmt: skip
    assert list(metadata) == [
        "price",
        "order_id",
        "order_shipping_city",
        "link",
        "amount",
        "skus",
        "renewal_date",
        "note",
        "k1",
        "k2",
    ]
    assert metadata["link"] == {"url": "https://example.com/o1", "value": "Order o1"}
    assert metadata["amount"] == {"amount": 500, "currency": "eur"}
    assert metadata["skus"] == "a, b"
    assert metadata["renewal_date"] == 1798761600
    assert metadata["note"] == "y" * 255
