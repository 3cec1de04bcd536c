"""How a delivery fails: the Intercom error, and the step a replay resumes at."""

from __future__ import annotations

from enum import StrEnum

from intercom_destination.intercom.errors import IntercomError, PermanentError, RetryableError
from intercom_destination.mapping.plans import ContactRef
from intercom_destination.privacy import mask_email

#: The error code of a call that waits for a later event of its person (a group or track before the identify).
WAITS_FOR_LATER_EVENT = "contact_not_found"


class Step(StrEnum):
    """Where a delivery resumes (kept in each queued message as its `step`: the values are stored)."""

    ALL = "all"  # nothing done yet
    MERGE = "merge"  # the user exists: only folding in their visitor's leads is left
    ATTACH = "attach"  # the company is written: only attaching the contact is left


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

    def __init__(self, error: IntercomError, step: str = Step.ALL, state: dict[str, str] | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.step = step
        self.state = state or {}


def describe(ref: ContactRef) -> str:
    if ref.external_id:
        return f"userId {ref.external_id!r}"
    return f"email {mask_email(ref.email or '')}"
