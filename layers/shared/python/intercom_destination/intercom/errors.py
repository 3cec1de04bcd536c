"""How an Intercom call fails: the error taxonomy delivery and the redrive decide on.

- RetryableError: 429, 5xx, timeouts, connection errors, 401/403 (a token can be fixed), Intercom's
  known races (409 without an id, `unique_company_constraint`).
- PermanentError: the request itself is wrong (400/422 with Intercom's message); retrying cannot help.
- NotFoundError / ConflictError: permanent as a request, but delivery recovers from them.
"""

from __future__ import annotations


class IntercomError(Exception):
    """An Intercom call that did not succeed, with what Intercom said (never the token)."""

    retryable = False

    def __init__(self, status: int | None, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class RetryableError(IntercomError):
    retryable = True


class RateLimitedError(RetryableError):
    """The window's budget is spent; `reset_at` is when Intercom refills it (unix seconds)."""

    def __init__(self, reset_at: float, message: str = "rate limit exceeded") -> None:
        super().__init__(429, "rate_limit_exceeded", message)
        self.reset_at = reset_at


class PermanentError(IntercomError):
    pass


class NotFoundError(PermanentError):
    pass


class ConflictError(PermanentError):
    """409 on create: a contact with those identifiers exists, and Intercom named its id."""

    def __init__(self, existing_id: str, message: str, request_id: str | None = None) -> None:
        super().__init__(409, "conflict", message, request_id)
        self.existing_id = existing_id


class UnknownAttributeError(PermanentError):
    """400 "Custom attribute 'X' does not exist"."""
