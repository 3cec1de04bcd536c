"""Leads: the ones we made for a visitor, remembered (warm map, then the durable lead memory, as Intercom's
search lags creation by minutes), and folded into the user they became (on their identify, or an alias)."""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.errors import ContactNotFoundError, DeliveryError, Step
from intercom_destination.intercom.errors import IntercomError, NotFoundError, RetryableError
from intercom_destination.mapping.plans import ContactRef, MergePlan
from intercom_destination.person import anonymous_subject, email_key, user_subject

logger = Logger(child=True)


class LeadMemory(Protocol):
    """Durable visitor → lead id for the leads we created (durability/people.py), by `email:<address>` and by
    `anonymous:<anonymousId>`, so a merge survives a cold start."""

    def lead(self, subject: str) -> str | None: ...
    def lead_created(self, subjects: list[str], lead_id: str) -> None: ...
    def lead_merged(self, subjects: list[str]) -> None: ...


class Leads:
    def __init__(self, contacts: Contacts, memory: LeadMemory) -> None:
        self._contacts = contacts
        self._leads = memory

    def created(self, subjects: list[str], lead_id: str) -> None:
        """A lead we made for a visitor, remembered warm and durably (Intercom's search lags creation)."""
        self._contacts.cache.put(lead_id, *(f"lead:{subject}" for subject in subjects))
        try:
            self._leads.lead_created(subjects, lead_id)
        except (BotoCoreError, ClientError):  # the warm cache and Intercom's search still find it
            logger.exception("lead not remembered durably", extra={"contact_id": lead_id})

    def merge(self, user_id: str, email: str | None, anonymous_id: str | None) -> None:
        """The user exists now; fold in the leads we made for its visitor and, given an email, those Intercom
        finds for it. If that fails, a replay resumes at the merge alone."""
        subjects = lead_subjects(email, anonymous_id)
        try:
            leads, remembered = self.remembered_leads(subjects)
            if email:
                for lead in self._contacts.client.search_by_email(email, role="lead"):
                    leads.setdefault(lead.id, False)
            self.fold(leads, user_id, subjects, remembered)
        except IntercomError as exc:
            state = {"user": user_id, **({"email": email} if email else {})}
            raise DeliveryError(
                exc, Step.MERGE, state | ({"anonymous_id": anonymous_id} if anonymous_id else {})
            ) from None

    def remembered_leads(self, subjects: list[str]) -> tuple[dict[str, bool], list[str]]:
        """The leads we made for these visitor subjects (warm cache, then the durable memory: search lags
        creation by minutes, and a replay may run in a new function), and the subjects remembered durably.
        Each lead maps to True: the event's own ids vouch it is this person (see `fold`)."""
        leads: dict[str, bool] = {}
        remembered = []
        for subject in subjects:
            try:
                found = [self._contacts.cache.get(f"lead:{subject}"), self._leads.lead(subject)]
            except (BotoCoreError, ClientError):
                raise RetryableError(
                    None, "lead_memory_unavailable", "the leads made for a visitor are unreadable"
                ) from None
            remembered += [subject] if found[1] else []
            leads |= dict.fromkeys(filter(None, found), True)
        return leads, remembered

    def fold(self, leads: dict[str, bool], user_id: str, subjects: list[str], remembered: list[str]) -> None:
        """Merge each lead into the user. A lead the event vouches for (one we made for its visitor) skips
        Intercom's same-email check; one only Intercom's search found must pass it."""
        for lead_id, vouched in sorted(leads.items()):
            try:
                self._contacts.client.merge_lead(lead_id, user_id, vouched)
            except NotFoundError:
                continue  # merged or deleted meanwhile
            logger.info("merged lead into user", extra={"lead_id": lead_id, "contact_id": user_id})
        self._contacts.cache.evict(*(f"lead:{subject}" for subject in subjects))
        if remembered:
            try:
                self._leads.lead_merged(remembered)
            except (BotoCoreError, ClientError):  # a later merge finds the lead gone (404) and moves on
                logger.exception("merged lead not forgotten", extra={"contact_id": user_id})

    def merge_visitor(self, plan: MergePlan) -> str | None:
        """The lead we made for the visitor joins the user (created first if Intercom has none); a visitor
        we made no lead for costs no Intercom call."""
        subjects = lead_subjects(plan.email, plan.anonymous_id)
        leads, remembered = self.remembered_leads(subjects)
        if not leads:
            return "no lead was made for this visitor"
        self.fold(leads, self.user(plan.user), subjects, remembered)
        return None

    def user(self, ref: ContactRef) -> str:
        """The user's contact id; a user Intercom does not have yet is created (by external_id alone)."""
        try:
            return self._contacts.resolve(ref)
        except ContactNotFoundError:
            pass
        created = self._contacts.create({"external_id": ref.external_id or ""}, "user", ref)
        return created.id if created else self._contacts.cache.get(user_subject(ref.external_id or "")) or ""


def lead_subjects(email: str | None, anonymous_id: str | None) -> list[str]:
    """How the lead memory names a visitor: by the email they left, and by their anonymousId."""
    return ([email_key(email)] if email else []) + ([anonymous_subject(anonymous_id)] if anonymous_id else [])
