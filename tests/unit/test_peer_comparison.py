"""The comparison with the peers (docs/mapping.md, "Beside Segment's and RudderStack's destinations"),
kept honest: each row's input replayed through our mapping (the default actions, the requests `make
preview` shows), asserting our column. The peers' columns are read from their source files, named there."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.events import parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import default_actions
from intercom_destination.mapping.requests import requests_of

RECEIVED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def sent(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every request the default actions plan for the event."""
    call = parse_call(event)
    return [
        (request["method"], request["path"], request["body"])
        for action in default_actions().fired(event)
        for request in requests_of(map_call(call, RECEIVED, LeadHandling.LEAD, action, event))
    ]


def first_body(event: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return next(body for m, p, body in sent(event) if (m, p) == (method, path))


def identify(**traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": "u1", "traits": traits}


def group(**traits: Any) -> dict[str, Any]:
    return {"type": "group", "userId": "u1", "groupId": "acme", "traits": traits}


def track(**properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": "Paid", "properties": properties}


ROWS: dict[str, Any] = {
    "name from first and last name": lambda: first_body(identify(firstName="Ada", lastName="Lovelace"), "POST", "/contacts")["name"] == "Ada Lovelace",
    "traits.createdAt of a contact": lambda: first_body(identify(createdAt="2020-02-02T00:00:00Z"), "POST", "/contacts")["signed_up_at"] == 1580601600,
    "traits.ownerId": lambda: first_body(identify(ownerId=123), "POST", "/contacts")["owner_id"] == "123",
    "traits.company on an identify": lambda: [(m, p) for m, p, _ in sent(identify(company={"id": "acme", "name": "Acme"}))] == [
        ("POST", "/contacts"), ("POST", "/companies"), ("POST", "/contacts/{contact id}/companies")],
    "traits.company without an id": lambda: first_body(identify(company={"name": "Acme"}), "POST", "/companies")["company_id"] == "79d894520f4f94c267986a819e110bec",
    "traits.company with remove: true": lambda: [(m, p) for m, p, _ in sent(identify(company={"id": "acme", "remove": True}))][1:] == [
        ("GET", "/companies?company_id=acme"), ("DELETE", "/contacts/{contact id}/companies/{company id}")],
    "traits.tags of a contact": lambda: [p for m, p, _ in sent(identify(tags=["vip"]))] == ["/contacts", "/contacts/{contact id}/tags"],
    "traits.tags of a company": lambda: ("POST", "/tags", {"name": "vip", "companies": [{"company_id": "acme"}]}) in sent(group(tags=["vip"])),
    "traits.createdAt of a company": lambda: first_body(group(createdAt="2020-02-02T00:00:00Z"), "POST", "/companies")["remote_created_at"] == 1580601600,
    "traits.remoteCreatedAt": lambda: first_body(group(remoteCreatedAt="2020-02-02T00:00:00Z"), "POST", "/companies")["remote_created_at"] == 1580601600,
    "traits.monthly_spend 99.9": lambda: first_body(group(monthly_spend=99.9), "POST", "/companies")["monthly_spend"] == 99,
    "traits.employees": lambda: first_body(group(employees="250"), "POST", "/companies")["size"] == 250,
    "properties.revenue 19.99": lambda: first_body(track(revenue=19.99), "POST", "/events")["metadata"] == {"price": {"amount": 1999, "currency": "USD"}},
    "properties.revenue as money": lambda: first_body(track(revenue={"amount": 1999, "currency": "EUR"}), "POST", "/events")["metadata"] == {"price": {"amount": 1999, "currency": "EUR"}},
    "nested properties": lambda: first_body(track(order={"id": "o1"}), "POST", "/events")["metadata"] == {"order_id": "o1"},
}  # fmt: skip


@pytest.mark.parametrize("row", list(ROWS))
def test_our_column_of_the_comparison_is_what_the_mapping_sends(row: str) -> None:
    assert ROWS[row]()


def test_every_row_of_the_docs_comparison_is_replayed_here() -> None:
    text = DOCS.read_text()
    table = text[text.index("### Beside Segment's and RudderStack's destinations") :].split("\n\n")[2]
    rows = [re.match(r"\| ([^|]+?) \|", line) for line in table.splitlines()[2:]]
    assert [row.group(1) for row in rows if row] == list(ROWS)
