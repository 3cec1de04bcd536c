"""identify → Identify Contact: standard contact fields plus flattened custom attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ..events import Identify
from ..settings import LeadHandling
from ..timestamps import unix_seconds
from .plans import ContactBody, ContactRef, IdentifyPlan, Scalar, Skip
from .values import boolean, first, flatten, text, unix

#: Trait spellings read into standard contact fields (never also sent as custom attributes).
_STANDARD_TRAITS = frozenset({
    "email", "phone", "name", "firstName", "first_name", "lastName", "last_name", "avatar",
    "createdAt", "created_at", "owner_id", "ownerId", "unsubscribed_from_emails", "unsubscribedFromEmails",
})  # fmt: skip
#: Intercom's own contact attributes: never writable as custom attributes.
RESERVED_CONTACT_ATTRIBUTES = frozenset({
    "id", "type", "role", "external_id", "user_id", "userId", "workspace_id", "email", "email_domain",
    "phone", "formatted_phone", "name", "avatar", "owner_id", "signed_up_at", "last_seen_at", "created_at",
    "updated_at", "last_replied_at", "last_contacted_at", "last_email_opened_at", "last_email_clicked_at",
    "unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced", "language_override",
    "browser", "browser_version", "browser_language", "os", "location", "social_profiles", "companies",
    "company", "tags", "notes", "custom_attributes", "session_count", "android_app_name",
    "android_app_version", "android_device", "android_os_version", "android_sdk_version",
    "android_last_seen_at", "ios_app_name", "ios_app_version", "ios_device", "ios_os_version",
    "ios_sdk_version", "ios_last_seen_at", "opted_in_subscription_types", "opted_out_subscription_types",
    "referrer", "utm_campaign", "utm_content", "utm_medium", "utm_source", "utm_term",
})  # fmt: skip


def map_identify(call: Identify, received_at: datetime, lead_handling: LeadHandling) -> IdentifyPlan | Skip:
    traits = call.traits
    email = text(traits.get("email"))
    if call.userId is None and email is None:
        return Skip("identify without userId or email: Intercom cannot address an anonymous visitor")
    if call.userId is None and lead_handling is LeadHandling.SKIP:
        return Skip("identify without userId while LEAD_HANDLING=skip")
    role: Literal["user", "lead"] = "user" if call.userId is not None or lead_handling is LeadHandling.USER else "lead"
    return IdentifyPlan(
        contact=ContactRef(external_id=call.userId, email=email),
        role=role,
        body=contact_fields(traits, call, received_at),
        custom_attributes=custom_attributes(traits, _STANDARD_TRAITS | RESERVED_CONTACT_ATTRIBUTES),
    )


def contact_fields(traits: dict[str, Any], call: Identify, received_at: datetime) -> ContactBody:
    body: ContactBody = {}
    if email := text(traits.get("email")):
        body["email"] = email
    if phone := text(traits.get("phone")):
        body["phone"] = phone
    if name := text(traits.get("name")) or _full_name(traits):
        body["name"] = name
    if avatar := text(traits.get("avatar")):
        body["avatar"] = avatar
    if (signed_up := unix(first(traits, "createdAt", "created_at"))) is not None:
        body["signed_up_at"] = signed_up
    if call.context.get("active") is not False:  # server-side calls flagged inactive don't mark a visit
        body["last_seen_at"] = unix_seconds(call.occurred_at(received_at))
    if owner := text(first(traits, "owner_id", "ownerId")):
        body["owner_id"] = owner  # a string since Intercom-Version 2.16
    if (unsubscribed := boolean(first(traits, "unsubscribed_from_emails", "unsubscribedFromEmails"))) is not None:
        body["unsubscribed_from_emails"] = unsubscribed
    return body


def _full_name(traits: dict[str, Any]) -> str | None:
    parts = [text(first(traits, "firstName", "first_name")), text(first(traits, "lastName", "last_name"))]
    return " ".join(part for part in parts if part) or None


def custom_attributes(traits: dict[str, Any], excluded: frozenset[str]) -> dict[str, Scalar]:
    """Every other trait, flattened; a flattened key that lands on a reserved name is dropped too."""
    rest = {key: value for key, value in traits.items() if key not in excluded}
    return {key: value for key, value in flatten(rest) if key not in excluded}
