"""Forgetting a person: Intercom contacts, queued messages and our records."""
