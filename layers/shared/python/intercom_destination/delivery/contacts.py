"""The lookups and writes every delivery shares: a contact's Intercom id (warm map, then Intercom), creating
one without ever making a second (409 recovery), the write window, and the custom-attribute retry."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

from intercom_destination.delivery.errors import ContactNotFoundError, EmailOwnedByOtherUserError, describe
from intercom_destination.delivery.identity import IdentityCache, contact_keys, contact_subject
from intercom_destination.intercom.attributes import AttributeRegistry, Model
from intercom_destination.intercom.client import Contact, IntercomClient
from intercom_destination.intercom.errors import ConflictError, NotFoundError, UnknownAttributeError
from intercom_destination.mapping.plans import ContactBody, ContactRef, Scalar
from intercom_destination.person import email_key, user_subject

T = TypeVar("T")


class Contacts:
    def __init__(
        self,
        client: IntercomClient,
        registry: AttributeRegistry,
        cache: IdentityCache,
        write_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.cache = cache
        self._registry = registry
        self._window = write_window
        self._clock = clock

    def unchanged(self, subject: str, body_fingerprint: str) -> bool:
        """The same body was written within the window: writing it again would change nothing but
        last_seen_at, which is coalesced to once per window."""
        entry = self.cache.get(subject)
        if not entry or self._window <= 0:
            return False
        written, _, at = entry.partition("@")
        return written == body_fingerprint and self._clock() - float(at or 0) < self._window

    def written(self, subject: str, body_fingerprint: str) -> None:
        self.cache.put(f"{body_fingerprint}@{int(self._clock())}", subject)

    def create(
        self, body: ContactBody, role: Literal["user", "lead"], ref: ContactRef, update: ContactBody | None = None
    ) -> Contact | None:
        """Create the contact, or, when Intercom answers 409 naming an existing one, update that one (with
        `update`, else `body`) instead of ever creating a second. Returns the new contact; None when it
        already existed."""
        try:
            contact = self.client.create_contact({**body, "role": role})
        except ConflictError as conflict:
            if ref.external_id:
                self.check_owner(conflict.existing_id, ref)
            self.client.update_contact(conflict.existing_id, body if update is None else update)
            self.cache.put(conflict.existing_id, *contact_keys(ref))
            return None
        self.cache.put(contact.id, *contact_keys(ref))
        return contact

    def check_owner(self, contact_id: str, ref: ContactRef) -> None:
        """A 409 may name another user's contact (two userIds, one email): never write our external_id
        or traits onto it. A contact without an external_id (a lead, or a user known by email) is ours."""
        owner = self.client.get_contact(contact_id).external_id
        if owner and owner != ref.external_id:
            raise EmailOwnedByOtherUserError(ref.external_id or "", owner)

    def update(self, contact_id: str, body: ContactBody, ref: ContactRef) -> bool:
        """PUT to a known id; False when it is gone (deleted or merged away) so the caller looks again."""
        try:
            self.client.update_contact(contact_id, body)
        except NotFoundError:
            self.cache.evict(*contact_keys(ref))
            return False
        return True

    def forget_contact(self, ref: ContactRef) -> None:
        """Intercom has no such contact: forget its id, and what we wrote to it, so the next identify
        writes (creates) it again instead of being skipped as unchanged."""
        self.cache.evict(*contact_keys(ref), f"written:{contact_subject(ref)}")

    def known_contact(self, ref: ContactRef) -> str | None:
        """The contact id `_resolve` would find without a call, if any."""
        return self.cache.get(user_subject(ref.external_id) if ref.external_id else email_key(ref.email or ""))

    def resolve(self, ref: ContactRef) -> str:
        """The Intercom id of an existing contact: by external_id (users), else by email."""
        if ref.external_id:
            if cached := self.cache.get(user_subject(ref.external_id or "")):
                return cached
            try:
                contact_id = self.client.find_user(ref.external_id).id
            except NotFoundError:
                raise ContactNotFoundError(describe(ref)) from None
            self.cache.put(contact_id, user_subject(ref.external_id))
            return contact_id
        if ref.email and (by_email := self.find_by_email(ref.email)):
            return by_email
        raise ContactNotFoundError(describe(ref))

    def find_by_email(self, email: str) -> str | None:
        key = email_key(email)
        if cached := self.cache.get(key):
            return cached
        found = self.client.search_by_email(email)
        if not found:
            return None
        # Prefer a user over leads sharing the email; among equals, Intercom's order (newest first).
        best = next((contact for contact in found if contact.role == "user"), found[0])
        self.cache.put(best.id, key, *([f"lead:email:{email.lower()}"] if best.role == "lead" else []))
        return best.id

    def with_attributes(
        self, model: Model, attributes: dict[str, Scalar], write: Callable[[dict[str, Scalar]], T]
    ) -> T:
        """Write with the attributes the policy allows; if Intercom still rejects one (archived since
        we cached the list), re-read the list and write once more."""
        try:
            return write(self._registry.prepare(model, attributes))
        except UnknownAttributeError:
            self._registry.forget(model)
            return write(self._registry.prepare(model, attributes))
