"""Tags on contacts and companies. Intercom's tags only add (there is no "set"): each tag an event names is
applied once and remembered in the identity map (so a repeat costs no call), and the tags an actions
field names for removal are taken off."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from intercom_destination.delivery.contacts import Contacts
from intercom_destination.delivery.identity import contact_subject
from intercom_destination.intercom.errors import NotFoundError
from intercom_destination.intercom.tags import TagRegistry
from intercom_destination.mapping.plans import ContactRef


class Tagging:
    def __init__(self, contacts: Contacts, registry: TagRegistry) -> None:
        self._contacts = contacts
        self._registry = registry

    def contact(self, ref: ContactRef, tags: Sequence[str], untags: Sequence[str]) -> None:
        """Tag the contact (written just before, so known) and untag it."""
        if not tags and not untags:
            return
        contact_id = self._contacts.known_contact(ref) or self._contacts.resolve(ref)
        cache, client, subject = self._contacts.cache, self._contacts.client, contact_subject(ref)
        for name in tags:
            key = f"tagged:{subject}:{name.casefold()}"
            if cache.get(key) != contact_id:  # a contact made again is tagged again
                client.tag_contact(contact_id, self._registry.id_of(name))
                cache.put(contact_id, key)
        for name in untags:
            cache.evict(f"tagged:{subject}:{name.casefold()}")
            if (tag_id := self._registry.known(name)) is not None:
                with suppress(NotFoundError):  # not on this contact
                    client.untag_contact(contact_id, tag_id)

    def company(self, company_id: str, intercom_id: str, tags: Sequence[str], untags: Sequence[str]) -> None:
        """Tag and untag the company (by our company_id: no lookup)."""
        cache, client = self._contacts.cache, self._contacts.client
        for name in tags:
            key = f"tagged:group:{company_id}:{name.casefold()}"
            if cache.get(key) != intercom_id:
                client.tag_company(name, company_id)
                cache.put(intercom_id, key)
        for name in untags:
            cache.evict(f"tagged:group:{company_id}:{name.casefold()}")
            if self._registry.known(name) is not None:
                client.tag_company(name, company_id, untag=True)
