"""Track Event: one POST /events, by user_id, or by the contact id of an email-only contact."""

from __future__ import annotations

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.errors import ContactNotFoundError, describe
from intercom_destination.intercom.errors import NotFoundError
from intercom_destination.mapping.plans import TrackPlan


class TrackEvent:
    def __init__(self, contacts: Contacts) -> None:
        self._contacts = contacts

    def track(self, plan: TrackPlan) -> None:
        ref = plan.contact
        # user_id needs no lookup; an email-only contact may be a lead, which only its id addresses.
        contact = {"user_id": ref.external_id} if ref.external_id else {"id": self._contacts.resolve(ref)}
        try:
            self._contacts.client.submit_event(plan.event, contact)
        except NotFoundError:
            self._contacts.forget_contact(ref)
            raise ContactNotFoundError(describe(ref)) from None
