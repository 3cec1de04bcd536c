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
from typing import Literal, Protocol, TypeVar, cast

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.delivery.identity import IdentityCache, contact_keys, contact_subject, fingerprint
from intercom_destination.intercom.attributes import AttributeRegistry, Model
from intercom_destination.intercom.client import (
    ConflictError,
    Contact,
    IntercomClient,
    IntercomError,
    NotFoundError,
    PermanentError,
    RetryableError,
    UnknownAttributeError,
)
from intercom_destination.mapping.plans import (
    ContactBody,
    ContactRef,
    GroupPlan,
    IdentifyPlan,
    MergePlan,
    Plan,
    Scalar,
    Skip,
    TrackPlan,
)
from intercom_destination.mapping.requests import company_body, contact_body
from intercom_destination.person import anonymous_subject, email_key, user_subject
from intercom_destination.privacy import mask_email

logger = Logger(child=True)
T = TypeVar("T")


#: The error code of a call that waits for a later event of its person (a group or track before the identify).
WAITS_FOR_LATER_EVENT = "contact_not_found"
#: The step a group resumes at once its company is written: only the attach is left.
COMPANY_WRITTEN = "attach"


class ContactNotFoundError(RetryableError):
    """The call's contact is not in Intercom (yet): a group or track that arrived before its identify."""

    def __init__(self, what: str) -> None:
        super().__init__(404, WAITS_FOR_LATER_EVENT, f"no Intercom contact for {what} yet")


class EmailOwnedByOtherUserError(PermanentError):
    """The email belongs to another user's contact; parked for a person to decide (merge, or fix the data)."""

    def __init__(self, ours: str, owner: str) -> None:
        super().__init__(
            409,
            "email_owned_by_other_user",
            f"userId {ours!r} has an email that Intercom holds on the contact of userId {owner!r}; "
            "neither contact was changed",
        )


class DeliveryError(Exception):
    """An Intercom error, with the step still to do: a replay resumes there rather than redoing steps
    that succeeded (a group whose company upsert worked replays only the attach)."""

    def __init__(self, error: IntercomError, step: str = "all", state: dict[str, str] | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.step = step
        self.state = state or {}


class LeadMemory(Protocol):
    """Durable visitor → lead id for the leads we created (people.People), by `email:<address>` and by
    `anonymous:<anonymousId>`, so a merge survives a cold start."""

    def lead(self, subject: str) -> str | None: ...
    def lead_created(self, subjects: list[str], lead_id: str) -> None: ...
    def lead_merged(self, subjects: list[str]) -> None: ...


class Deliverer:
    def __init__(
        self,
        client: IntercomClient,
        registry: AttributeRegistry,
        cache: IdentityCache,
        leads: LeadMemory,
        write_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._registry = registry
        self._cache = cache
        self._leads = leads
        self._window = write_window
        self._clock = clock

    def deliver(self, plan: Plan, step: str = "all", state: dict[str, str] | None = None) -> str | None:
        """Raises DeliveryError; its `error.retryable` says whether to try again later. Returns why nothing
        was sent when there was nothing to do (a Merge Lead for a visitor we made no lead for)."""
        try:
            match plan:
                case IdentifyPlan() if step == "merge" and state:
                    self._merge(state["user"], state.get("email"), state.get("anonymous_id"))
                case MergePlan():
                    return self._merge_visitor(plan)
                case IdentifyPlan():
                    self._identify(plan)
                case GroupPlan():
                    self._group(plan, (state or {}).get("company") if step == "attach" else None)
                case TrackPlan():
                    self._track(plan)
                case Skip():
                    pass
        except IntercomError as exc:
            raise DeliveryError(exc) from None
        return None

    # --- identify -------------------------------------------------------------------------------
    def _identify(self, plan: IdentifyPlan) -> None:
        self._with_attributes("contact", plan.custom_attributes, lambda attrs: self._write_contact(plan, attrs))

    def _write_contact(self, plan: IdentifyPlan, attributes: dict[str, Scalar]) -> None:
        body = contact_body(plan, attributes)
        ref = plan.contact
        subject = f"written:{contact_subject(ref)}"
        written = fingerprint({**body, "role": plan.role})
        if self._unchanged(subject, written):
            return
        if ref.external_id is None:
            self._write_by_email(plan, body)
        else:
            self._write_user(plan, body)
        self._written(subject, written)

    def _write_user(self, plan: IdentifyPlan, body: ContactBody) -> None:
        """Update or create the user; then fold in the leads of its visitor (anonymousId) and, on a first
        create, of its email."""
        ref = plan.contact
        user_id = self._cache.get(user_subject(ref.external_id or ""))
        created = None
        update: ContactBody = body
        if plan.email_on_create_only:  # a browser key's identify: a user who exists keeps their email
            update = cast(ContactBody, {name: value for name, value in body.items() if name != "email"})
        if not (user_id and self._update(user_id, update, ref)):
            created = self._create(body, "user", ref, update)
            user_id = created.id if created else self._cache.get(user_subject(ref.external_id or ""))  # a 409 cached it
        email = ref.email if created else None
        if user_id and (email or plan.anonymous_id):
            self._merge(user_id, email, plan.anonymous_id)

    def _unchanged(self, subject: str, body_fingerprint: str) -> bool:
        """The same body was written within the window: writing it again would change nothing but
        last_seen_at, which is coalesced to once per window."""
        entry = self._cache.get(subject)
        if not entry or self._window <= 0:
            return False
        written, _, at = entry.partition("@")
        return written == body_fingerprint and self._clock() - float(at or 0) < self._window

    def _written(self, subject: str, body_fingerprint: str) -> None:
        self._cache.put(f"{body_fingerprint}@{int(self._clock())}", subject)

    def _merge(self, user_id: str, email: str | None, anonymous_id: str | None) -> None:
        """The user exists now; fold in the leads we made for its visitor and, given an email, those Intercom
        finds for it. If that fails, a replay resumes at the merge alone."""
        subjects = lead_subjects(email, anonymous_id)
        try:
            leads, remembered = self._remembered_leads(subjects)
            if email:
                for lead in self._client.search_by_email(email, role="lead"):
                    leads.setdefault(lead.id, False)
            self._fold(leads, user_id, subjects, remembered)
        except IntercomError as exc:
            state = {"user": user_id, **({"email": email} if email else {})}
            raise DeliveryError(
                exc, "merge", state | ({"anonymous_id": anonymous_id} if anonymous_id else {})
            ) from None

    def _write_by_email(self, plan: IdentifyPlan, body: ContactBody) -> None:
        """No userId: update whoever owns the email (a user first, else the lead), or create a contact."""
        ref = plan.contact
        assert ref.email is not None  # the mapping skips identifies with neither id nor email
        contact_id = self._find_by_email(ref.email)
        if contact_id and self._update(contact_id, body, ref):
            return
        created = self._create(body, plan.role, ref)
        if created and created.role == "lead":
            subjects = lead_subjects(ref.email, plan.anonymous_id)
            self._cache.put(created.id, *(f"lead:{subject}" for subject in subjects))
            try:
                self._leads.lead_created(subjects, created.id)
            except (BotoCoreError, ClientError):  # the warm cache and Intercom's search still find it
                logger.exception("lead not remembered durably", extra={"contact_id": created.id})

    def _create(
        self, body: ContactBody, role: Literal["user", "lead"], ref: ContactRef, update: ContactBody | None = None
    ) -> Contact | None:
        """Create the contact, or, when Intercom answers 409 naming an existing one, update that one (with
        `update`, else `body`) instead of ever creating a second. Returns the new contact; None when it
        already existed."""
        try:
            contact = self._client.create_contact({**body, "role": role})
        except ConflictError as conflict:
            if ref.external_id:
                self._check_owner(conflict.existing_id, ref)
            self._client.update_contact(conflict.existing_id, body if update is None else update)
            self._cache.put(conflict.existing_id, *contact_keys(ref))
            return None
        self._cache.put(contact.id, *contact_keys(ref))
        return contact

    def _check_owner(self, contact_id: str, ref: ContactRef) -> None:
        """A 409 may name another user's contact (two userIds, one email): never write our external_id
        or traits onto it. A contact without an external_id (a lead, or a user known by email) is ours."""
        owner = self._client.get_contact(contact_id).external_id
        if owner and owner != ref.external_id:
            raise EmailOwnedByOtherUserError(ref.external_id or "", owner)

    def _update(self, contact_id: str, body: ContactBody, ref: ContactRef) -> bool:
        """PUT to a known id; False when it is gone (deleted or merged away) so the caller looks again."""
        try:
            self._client.update_contact(contact_id, body)
        except NotFoundError:
            self._cache.evict(*contact_keys(ref))
            return False
        return True

    def _remembered_leads(self, subjects: list[str]) -> tuple[dict[str, bool], list[str]]:
        """The leads we made for these visitor subjects (warm cache, then the durable memory: search lags
        creation by minutes, and a replay may run in a new function), and the subjects remembered durably.
        Each lead maps to True: the event's own ids vouch it is this person (see `_fold`)."""
        leads: dict[str, bool] = {}
        remembered = []
        for subject in subjects:
            try:
                found = [self._cache.get(f"lead:{subject}"), self._leads.lead(subject)]
            except (BotoCoreError, ClientError):
                raise RetryableError(
                    None, "lead_memory_unavailable", "the leads made for a visitor are unreadable"
                ) from None
            remembered += [subject] if found[1] else []
            leads |= dict.fromkeys(filter(None, found), True)
        return leads, remembered

    def _fold(self, leads: dict[str, bool], user_id: str, subjects: list[str], remembered: list[str]) -> None:
        """Merge each lead into the user. A lead the event vouches for (one we made for its visitor) skips
        Intercom's same-email check; one only Intercom's search found must pass it."""
        for lead_id, vouched in sorted(leads.items()):
            try:
                self._client.merge_lead(lead_id, user_id, vouched)
            except NotFoundError:
                continue  # merged or deleted meanwhile
            logger.info("merged lead into user", extra={"lead_id": lead_id, "contact_id": user_id})
        self._cache.evict(*(f"lead:{subject}" for subject in subjects))
        if remembered:
            try:
                self._leads.lead_merged(remembered)
            except (BotoCoreError, ClientError):  # a later merge finds the lead gone (404) and moves on
                logger.exception("merged lead not forgotten", extra={"contact_id": user_id})

    # --- alias ----------------------------------------------------------------------------------
    def _merge_visitor(self, plan: MergePlan) -> str | None:
        """The lead we made for the visitor joins the user (created first if Intercom has none); a visitor
        we made no lead for costs no Intercom call."""
        subjects = lead_subjects(plan.email, plan.anonymous_id)
        leads, remembered = self._remembered_leads(subjects)
        if not leads:
            return "no lead was made for this visitor"
        self._fold(leads, self._user(plan.user), subjects, remembered)
        return None

    def _user(self, ref: ContactRef) -> str:
        """The user's contact id; a user Intercom does not have yet is created (by external_id alone)."""
        try:
            return self._resolve(ref)
        except ContactNotFoundError:
            pass
        created = self._create({"external_id": ref.external_id or ""}, "user", ref)
        return created.id if created else self._cache.get(user_subject(ref.external_id or "")) or ""

    # --- group ----------------------------------------------------------------------------------
    def _group(self, plan: GroupPlan, company_id: str | None) -> None:
        """Upsert the company (unless unchanged, or a replay already did: `company_id` given), then attach
        the contact unless that attach was made before."""
        remembered = False
        if company_id is None:
            company_id, remembered = self._with_attributes(
                "company", plan.custom_attributes, lambda attributes: self._company(plan, attributes)
            )
        subject = contact_subject(plan.contact)
        if subject is None:
            return
        attached = f"attached:{subject}:{plan.company['company_id']}"
        known = self._known_contact(plan.contact)
        if known and self._cache.get(attached) == f"{known}>{company_id}":
            return  # this contact is attached to this company already (a re-created one is attached again)
        try:
            try:
                contact_id = self._attach(plan.contact, company_id)
            except NotFoundError as exc:
                if not remembered or exc.code != "company_not_found":
                    raise  # a stray answer Intercom has been seen to give under concurrency: not ours to fix
                self._forget_company(plan)  # the company we remembered is gone: upsert it again
                company_id, _ = self._with_attributes(
                    "company", plan.custom_attributes, lambda attributes: self._company(plan, attributes)
                )
                contact_id = self._attach(plan.contact, company_id)
        except IntercomError as exc:
            raise DeliveryError(exc, COMPANY_WRITTEN, {"company": company_id}) from None
        self._cache.put(f"{contact_id}>{company_id}", attached)

    def _company(self, plan: GroupPlan, attributes: dict[str, Scalar]) -> tuple[str, bool]:
        """The company's Intercom id, and whether it was remembered (its body unchanged within the window)
        rather than upserted now."""
        company_id, body = plan.company["company_id"], company_body(plan, attributes)
        known = self._cache.get(f"company:{company_id}")
        written = fingerprint(body)
        if known and self._unchanged(f"written:group:{company_id}", written):
            return known, True
        intercom_id = self._client.upsert_company(body)
        self._cache.put(intercom_id, f"company:{company_id}")
        self._written(f"written:group:{company_id}", written)
        return intercom_id, False

    def _forget_company(self, plan: GroupPlan) -> None:
        company_id = plan.company["company_id"]
        self._cache.evict(f"company:{company_id}", f"written:group:{company_id}")

    def _attach(self, contact: ContactRef, company_id: str) -> str:
        """Attach and return the contact's Intercom id."""
        contact_id = self._resolve(contact)
        try:
            self._client.attach_company(contact_id, company_id)
        except NotFoundError as exc:
            if exc.code == "company_not_found":
                raise
            self._forget_contact(contact)
            raise ContactNotFoundError(_describe(contact)) from None
        return contact_id

    # --- track ----------------------------------------------------------------------------------
    def _track(self, plan: TrackPlan) -> None:
        ref = plan.contact
        # user_id needs no lookup; an email-only contact may be a lead, which only its id addresses.
        contact = {"user_id": ref.external_id} if ref.external_id else {"id": self._resolve(ref)}
        try:
            self._client.submit_event(plan.event, contact)
        except NotFoundError:
            self._forget_contact(ref)
            raise ContactNotFoundError(_describe(ref)) from None

    # --- shared ---------------------------------------------------------------------------------
    def _forget_contact(self, ref: ContactRef) -> None:
        """Intercom has no such contact: forget its id, and what we wrote to it, so the next identify
        writes (creates) it again instead of being skipped as unchanged."""
        self._cache.evict(*contact_keys(ref), f"written:{contact_subject(ref)}")

    def _known_contact(self, ref: ContactRef) -> str | None:
        """The contact id `_resolve` would find without a call, if any."""
        return self._cache.get(user_subject(ref.external_id) if ref.external_id else email_key(ref.email or ""))

    def _resolve(self, ref: ContactRef) -> str:
        """The Intercom id of an existing contact: by external_id (users), else by email."""
        if ref.external_id:
            if cached := self._cache.get(user_subject(ref.external_id or "")):
                return cached
            try:
                contact_id = self._client.find_user(ref.external_id).id
            except NotFoundError:
                raise ContactNotFoundError(_describe(ref)) from None
            self._cache.put(contact_id, user_subject(ref.external_id))
            return contact_id
        if ref.email and (by_email := self._find_by_email(ref.email)):
            return by_email
        raise ContactNotFoundError(_describe(ref))

    def _find_by_email(self, email: str) -> str | None:
        key = email_key(email)
        if cached := self._cache.get(key):
            return cached
        found = self._client.search_by_email(email)
        if not found:
            return None
        # Prefer a user over leads sharing the email; among equals, Intercom's order (newest first).
        best = next((contact for contact in found if contact.role == "user"), found[0])
        self._cache.put(best.id, key, *([f"lead:email:{email.lower()}"] if best.role == "lead" else []))
        return best.id

    def _with_attributes(
        self, model: Model, attributes: dict[str, Scalar], write: Callable[[dict[str, Scalar]], T]
    ) -> T:
        """Write with the attributes the policy allows; if Intercom still rejects one (archived since
        we cached the list), re-read the list and write once more."""
        try:
            return write(self._registry.prepare(model, attributes))
        except UnknownAttributeError:
            self._registry.forget(model)
            return write(self._registry.prepare(model, attributes))


def lead_subjects(email: str | None, anonymous_id: str | None) -> list[str]:
    """How the lead memory names a visitor: by the email they left, and by their anonymousId."""
    return ([email_key(email)] if email else []) + ([anonymous_subject(anonymous_id)] if anonymous_id else [])


def _describe(ref: ContactRef) -> str:
    if ref.external_id:
        return f"userId {ref.external_id!r}"
    return f"email {mask_email(ref.email or '')}"
