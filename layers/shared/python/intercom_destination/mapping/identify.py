"""Identify Contact (identify by default): standard contact fields plus flattened custom attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from intercom_destination.config.settings import LeadHandling
from intercom_destination.intake.timestamps import unix_seconds
from intercom_destination.mapping.fields import (
    ActionKind,
    AnyCall,
    Field,
    attributes,
    identifier,
    person_traits,
    tag_fields,
    trait,
)
from intercom_destination.mapping.plans import ContactBody, ContactRef, IdentifyPlan, Skip
from intercom_destination.mapping.values import boolean, first, text, unix

#: Trait spellings read into standard contact fields (never also sent as custom attributes).
_STANDARD_TRAITS = frozenset({
    "email", "phone", "name", "firstName", "first_name", "lastName", "last_name", "avatar",
    "createdAt", "created_at", "signedUpAt", "signed_up_at", "lastSeenAt", "last_seen_at",
    "owner_id", "ownerId", "unsubscribed_from_emails", "unsubscribedFromEmails",
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


def _role(value: Any) -> Literal["user", "lead"] | None:
    role = (text(value) or "").lower()
    return role if role in ("user", "lead") else None  # type: ignore[return-value]


def _last_seen(call: AnyCall, received_at: datetime) -> int | None:
    """A `lastSeenAt` / `last_seen_at` trait when it is a date; else the event time, unless a server-side
    call is flagged inactive (context.active false): that does not mark a visit."""
    if (seen := unix(first(person_traits(call), "lastSeenAt", "last_seen_at"))) is not None:
        return seen
    return unix_seconds(call.occurred_at(received_at)) if call.context.get("active") is not False else None


def _full_name(traits: dict[str, Any]) -> str | None:
    parts = [text(first(traits, "firstName", "first_name")), text(first(traits, "lastName", "last_name"))]
    return " ".join(part for part in parts if part) or None


#: Standard contact fields, in the order they are sent.
_BODY_FIELDS = (
    "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at", "owner_id", "unsubscribed_from_emails",
)  # fmt: skip
FIELDS: dict[str, Field] = {
    "role": Field(
        lambda call, _: None,
        _role,
        description="`user` with a userId, else `LEAD_HANDLING` decides (`lead`); mapped: `user` or `lead`",
    ),
    "external_id": Field(lambda call, _: call.userId, identifier, description="`userId`; never `.` or `..`"),
    "email": trait(person_traits, "email", description="`traits.email` (else `context.traits.email`)"),
    "phone": trait(person_traits, "phone", description="`traits.phone`"),
    "name": Field(
        lambda call, _: text(person_traits(call).get("name")) or _full_name(person_traits(call)),
        text,
        description="`traits.name`, else `firstName` + `lastName`; text, cut at 255",
    ),
    "avatar": trait(person_traits, "avatar", description="`traits.avatar`: an image URL"),
    "signed_up_at": trait(
        person_traits,
        "createdAt",
        "created_at",
        "signedUpAt",
        "signed_up_at",
        coerce=unix,
        moment=True,
        description="`traits.createdAt` / `created_at` (or `signedUpAt` / `signed_up_at`); unix seconds, never in the future",
    ),
    "last_seen_at": Field(
        _last_seen,
        unix,
        moment=True,
        description="`traits.lastSeenAt` / `last_seen_at` when a date, else the event time (clock-skew corrected) unless `context.active` is false; unix seconds, never in the future",
    ),
    "owner_id": trait(
        person_traits, "owner_id", "ownerId", description="`traits.owner_id` / `ownerId`: a string (Intercom 2.16)"
    ),
    "unsubscribed_from_emails": trait(
        person_traits,
        "unsubscribed_from_emails",
        "unsubscribedFromEmails",
        coerce=boolean,
        description="`traits.unsubscribed_from_emails` / `unsubscribedFromEmails`; a boolean",
    ),
    "custom_attributes": attributes(
        person_traits,
        _STANDARD_TRAITS,
        RESERVED_CONTACT_ATTRIBUTES,
        "every other trait, flattened (docs/mapping.md's value rules); mapped: an object, flattened the same way",
    ),
    **tag_fields(person_traits, "contact"),
    "anonymous_id": Field(
        lambda call, _: call.anonymousId,
        identifier,
        description="`anonymousId`: the visitor whose lead joins this user",
    ),
}


def build(values: dict[str, Any], lead_handling: LeadHandling) -> IdentifyPlan | Skip:
    external_id, email = values["external_id"], values["email"]
    if external_id is None and email is None:
        return Skip("identify without userId or email: Intercom cannot address an anonymous visitor")
    if external_id is None and lead_handling is LeadHandling.SKIP:
        return Skip("identify without userId while LEAD_HANDLING=skip")
    default_role: Literal["user", "lead"] = (
        "user" if external_id is not None or lead_handling is LeadHandling.USER else "lead"
    )
    body = cast(ContactBody, {name: values[name] for name in _BODY_FIELDS if values[name] is not None})
    return IdentifyPlan(
        contact=ContactRef(external_id=external_id, email=email),
        role=values["role"] or default_role,
        body=body,
        custom_attributes=values["custom_attributes"] or {},
        anonymous_id=values["anonymous_id"],
        tags=values["tags"] or (),
        untags=values["untags"] or (),
    )


IDENTIFY_CONTACT = ActionKind(FIELDS, build)
