"""Identify Contact: a user (by userId) or a contact by email, written with one PUT when known and
unchanged bodies skipped within the write window; a user's first create folds in their visitor's leads."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools import Logger

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.identity import contact_subject, fingerprint
from intercom_destination.delivery.leads import Leads, lead_subjects
from intercom_destination.delivery.tags import Tagging
from intercom_destination.mapping.plans import ContactBody, IdentifyPlan, Scalar
from intercom_destination.mapping.requests import contact_body
from intercom_destination.person import user_subject

logger = Logger(child=True)


class IdentifyContact:
    def __init__(self, contacts: Contacts, leads: Leads, tagging: Tagging) -> None:
        self._contacts = contacts
        self._leads = leads
        self._tagging = tagging

    def identify(self, plan: IdentifyPlan) -> None:
        self._contacts.with_attributes(
            "contact", plan.custom_attributes, lambda attrs: self._write_contact(plan, attrs)
        )
        self._tagging.contact(plan.contact, plan.tags, plan.untags)

    def _write_contact(self, plan: IdentifyPlan, attributes: dict[str, Scalar]) -> None:
        body = contact_body(plan, attributes)
        ref = plan.contact
        subject = f"written:{contact_subject(ref)}"
        written = fingerprint({**body, "role": plan.role})
        if self._contacts.unchanged(subject, written):
            return
        if ref.external_id is None:
            self._write_by_email(plan, body)
        else:
            self._write_user(plan, body)
        self._contacts.written(subject, written)

    def _write_user(self, plan: IdentifyPlan, body: ContactBody) -> None:
        """Update or create the user; then fold in the leads of its visitor (anonymousId) and, on a first
        create, of its email."""
        ref = plan.contact
        user_id = self._contacts.cache.get(user_subject(ref.external_id or ""))
        created = None
        update: ContactBody = body
        if plan.email_on_create_only:  # a browser key's identify: a user who exists keeps their email
            update = cast(ContactBody, {name: value for name, value in body.items() if name != "email"})
        if not (user_id and self._contacts.update(user_id, update, ref)):
            created = self._contacts.create(body, "user", ref, update)
            user_id = (
                created.id if created else self._contacts.cache.get(user_subject(ref.external_id or ""))
            )  # a 409 cached it
        email = ref.email if created else None
        if user_id and (email or plan.anonymous_id):
            self._leads.merge(user_id, email, plan.anonymous_id)

    def _write_by_email(self, plan: IdentifyPlan, body: ContactBody) -> None:
        """No userId: update whoever owns the email (a user first, else the lead), or create a contact."""
        ref = plan.contact
        assert ref.email is not None  # the mapping skips identifies with neither id nor email
        contact_id = self._contacts.find_by_email(ref.email)
        if contact_id and self._contacts.update(contact_id, body, ref):
            return
        created = self._contacts.create(body, plan.role, ref)
        if created and created.role == "lead":
            self._leads.created(lead_subjects(ref.email, plan.anonymous_id), created.id)
