"""The redrive: replaying the dead-letter queue in per-person order, paced by Intercom's rate limit."""
