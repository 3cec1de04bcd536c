"""Runs a mapped plan against Intercom with as few calls as correctness allows.

Call budget (what peers spend in brackets, from their public source):
- identify, known user (cached id): 1 PUT [2: search + PUT]; unknown: POST, or POST → 409 → GET the
  contact Intercom names (is it another user's?) → PUT it, plus one lead search on a first create with
  an email (to merge that lead in).
- group: company upsert + attach, plus one contact lookup when the contact id is not cached [3].
- track by userId: 1 POST /events [1]; by email only: a cached or searched contact id, then the event.

Repeat calls cost less through the identity map (identity.py): known contact and company ids need no
lookup; an identify or company whose body is unchanged within the write window, and an attach already
made, cost no call at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.errors import DeliveryError, Step
from intercom_destination.delivery.group import IdentifyCompany
from intercom_destination.delivery.identify import IdentifyContact
from intercom_destination.delivery.identity import IdentityCache
from intercom_destination.delivery.leads import LeadMemory, Leads
from intercom_destination.delivery.tags import Tagging
from intercom_destination.delivery.track import TrackEvent
from intercom_destination.intercom.attributes import AttributeRegistry
from intercom_destination.intercom.client import IntercomClient
from intercom_destination.intercom.errors import IntercomError
from intercom_destination.intercom.tags import TagRegistry
from intercom_destination.mapping.plans import DetachPlan, GroupPlan, IdentifyPlan, MergePlan, Plan, Skip, TrackPlan


class Deliverer:
    """Dispatches a plan to its action's delivery (identify.py, leads.py for alias, group.py for companies,
    track.py)."""

    def __init__(
        self,
        client: IntercomClient,
        registry: AttributeRegistry,
        cache: IdentityCache,
        leads: LeadMemory,
        write_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        contacts = Contacts(client, registry, cache, write_window, clock)
        tagging = Tagging(contacts, TagRegistry(client))
        self._leads = Leads(contacts, leads)
        self._identify = IdentifyContact(contacts, self._leads, tagging)
        self._group = IdentifyCompany(contacts, tagging)
        self._track = TrackEvent(contacts)

    def deliver(self, plan: Plan, step: str = Step.ALL, state: dict[str, str] | None = None) -> str | None:
        """Raises DeliveryError; its `error.retryable` says whether to try again later. Returns why nothing
        was sent when there was nothing to do (a Merge Lead for a visitor we made no lead for)."""
        try:
            match plan:
                case IdentifyPlan() if step == Step.MERGE and state:
                    self._leads.merge(state["user"], state.get("email"), state.get("anonymous_id"))
                case MergePlan():
                    return self._leads.merge_visitor(plan)
                case IdentifyPlan():
                    self._identify.identify(plan)
                case GroupPlan():
                    self._group.group(plan, (state or {}).get("company") if step == Step.ATTACH else None)
                case DetachPlan():
                    self._group.detach(plan)
                case TrackPlan():
                    self._track.track(plan)
                case Skip():
                    pass
        except IntercomError as exc:
            raise DeliveryError(exc) from None
        return None
