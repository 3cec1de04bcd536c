"""What may appear in logs about a person: never a full email address."""

from __future__ import annotations


def mask_email(email: str) -> str:
    """`jane.doe@example.com` → `j***@example.com`: enough to tell domains apart, not to identify anyone."""
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
