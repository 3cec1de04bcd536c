"""Identify Company: the company upserted (unless unchanged within the write window, or a replay already
did), then the contact attached unless that attach was made before. Detach Company: the contact taken
off the company."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.errors import ContactNotFoundError, DeliveryError, Step, describe
from intercom_destination.delivery.identity import contact_subject, fingerprint
from intercom_destination.delivery.tags import Tagging
from intercom_destination.intercom.errors import IntercomError, NotFoundError
from intercom_destination.mapping.plans import ContactRef, DetachPlan, GroupPlan, Scalar
from intercom_destination.mapping.requests import company_body

logger = Logger(child=True)


class IdentifyCompany:
    def __init__(self, contacts: Contacts, tagging: Tagging) -> None:
        self._contacts = contacts
        self._tagging = tagging

    def group(self, plan: GroupPlan, company_id: str | None) -> None:
        """Upsert the company (unless unchanged, or a replay already did: `company_id` given), then attach
        the contact unless that attach was made before."""
        remembered = False
        if company_id is None:
            company_id, remembered = self._contacts.with_attributes(
                "company", plan.custom_attributes, lambda attributes: self._company(plan, attributes)
            )
        try:
            self._tagging.company(plan.company["company_id"], company_id, plan.tags, plan.untags)
        except IntercomError as exc:  # the company is written: a replay tags it (and attaches) from there
            raise DeliveryError(exc, Step.ATTACH, {"company": company_id}) from None
        subject = contact_subject(plan.contact)
        if subject is None:
            return
        attached = f"attached:{subject}:{plan.company['company_id']}"
        known = self._contacts.known_contact(plan.contact)
        if known and self._contacts.cache.get(attached) == f"{known}>{company_id}":
            return  # this contact is attached to this company already (a re-created one is attached again)
        try:
            try:
                contact_id = self._attach(plan.contact, company_id)
            except NotFoundError as exc:
                if not remembered or exc.code != "company_not_found":
                    raise  # a stray answer Intercom has been seen to give under concurrency: not ours to fix
                self._forget_company(plan)  # the company we remembered is gone: upsert it again
                company_id, _ = self._contacts.with_attributes(
                    "company", plan.custom_attributes, lambda attributes: self._company(plan, attributes)
                )
                contact_id = self._attach(plan.contact, company_id)
        except IntercomError as exc:
            raise DeliveryError(exc, Step.ATTACH, {"company": company_id}) from None
        self._contacts.cache.put(f"{contact_id}>{company_id}", attached)

    def detach(self, plan: DetachPlan) -> None:
        """Take the contact off the company. A company or contact Intercom does not have, or a contact not
        attached, leaves nothing to do (logged); a repeat is harmless."""
        subject = contact_subject(plan.contact)
        self._contacts.cache.evict(f"attached:{subject}:{plan.company_id}")  # a later attach is made again
        company_id = self._contacts.cache.get(f"company:{plan.company_id}")
        try:
            if company_id is None:
                company_id = self._contacts.client.find_company(plan.company_id)
                self._contacts.cache.put(company_id, f"company:{plan.company_id}")
            self._contacts.client.detach_company(self._contacts.resolve(plan.contact), company_id)
        except (NotFoundError, ContactNotFoundError) as exc:
            logger.info("nothing to detach", extra={"company_id": plan.company_id, "reason": str(exc)[:200]})

    def _company(self, plan: GroupPlan, attributes: dict[str, Scalar]) -> tuple[str, bool]:
        """The company's Intercom id, and whether it was remembered (its body unchanged within the window)
        rather than upserted now."""
        company_id, body = plan.company["company_id"], company_body(plan, attributes)
        known = self._contacts.cache.get(f"company:{company_id}")
        written = fingerprint(body)
        if known and self._contacts.unchanged(f"written:group:{company_id}", written):
            return known, True
        intercom_id = self._contacts.client.upsert_company(body)
        self._contacts.cache.put(intercom_id, f"company:{company_id}")
        self._contacts.written(f"written:group:{company_id}", written)
        return intercom_id, False

    def _forget_company(self, plan: GroupPlan) -> None:
        company_id = plan.company["company_id"]
        self._contacts.cache.evict(f"company:{company_id}", f"written:group:{company_id}")

    def _attach(self, contact: ContactRef, company_id: str) -> str:
        """Attach and return the contact's Intercom id."""
        contact_id = self._contacts.resolve(contact)
        try:
            self._contacts.client.attach_company(contact_id, company_id)
        except NotFoundError as exc:
            if exc.code == "company_not_found":
                raise
            self._contacts.forget_contact(contact)
            raise ContactNotFoundError(describe(contact)) from None
        return contact_id
