"""The baseline every ratio is measured against: a naive destination that looks each contact up before
writing it, one event after another (what Segment's Intercom destination spends per call, and how a
first implementation would do it). It keeps no state between events."""

from __future__ import annotations

import json
from typing import Any

import urllib3

from local.sandbox import DEFAULT_TOKEN


class NaiveDestination:
    def __init__(self, api_base: str, token: str = DEFAULT_TOKEN) -> None:
        self._base = api_base.rstrip("/")
        self._http = urllib3.PoolManager(retries=False)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Intercom-Version": "2.16",
        }

    def send(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            getattr(self, f"_{event['type']}")(event)

    def _identify(self, event: dict[str, Any]) -> None:
        traits = event.get("traits") or {}
        if not event.get("userId"):  # a lead
            self._call("POST", "/contacts", {"role": "lead", "email": traits["email"]})
            return
        body = {"external_id": event["userId"], "email": traits.get("email"), "name": traits.get("name")}
        found = self._find(event["userId"])
        if found:
            self._call("PUT", f"/contacts/{found}", {k: v for k, v in body.items() if v is not None})
        else:
            self._call("POST", "/contacts", {"role": "user", **{k: v for k, v in body.items() if v is not None}})

    def _group(self, event: dict[str, Any]) -> None:
        traits = event.get("traits") or {}
        company = self._call("POST", "/companies", {"company_id": event["groupId"], "name": traits.get("name", "")})
        contact = self._find(event["userId"])
        if contact:
            self._call("POST", f"/contacts/{contact}/companies", {"id": company["id"]})

    def _track(self, event: dict[str, Any]) -> None:
        body: dict[str, Any] = {"event_name": event["event"], "created_at": 1_700_000_000}
        if event.get("userId"):
            body["user_id"] = event["userId"]
        else:  # by email: only a contact id addresses a lead
            query = {"query": {"field": "email", "operator": "=", "value": event["context"]["traits"]["email"]}}
            data = self._call("POST", "/contacts/search", query).get("data") or []
            if not data:
                return
            body["id"] = data[0]["id"]
        self._call("POST", "/events", body)

    def _find(self, external_id: str) -> str | None:
        query = {"query": {"field": "external_id", "operator": "=", "value": external_id}}
        data = self._call("POST", "/contacts/search", query).get("data") or []
        return str(data[0]["id"]) if data else None

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.request(method, self._base + path, body=json.dumps(body).encode(), headers=self._headers)
        return json.loads(response.data) if response.data else {}
