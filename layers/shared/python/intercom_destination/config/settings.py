"""Environment variables, parsed once into a typed settings object (every variable is declared in template.yaml)."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cache

from pydantic import BaseModel, Field, field_validator

#: Intercom's regional REST hosts; the US host only *attempts* to route to other regions.
REGION_API_BASES = {
    "US": "https://api.intercom.io",
    "EU": "https://api.eu.intercom.io",
    "AU": "https://api.au.intercom.io",
}

#: The version of the vendored OpenAPI description (local/sandbox/openapi); the mapping is written for it.
DEFAULT_INTERCOM_VERSION = "2.16"


class AttributePolicy(StrEnum):
    """What to do with a custom attribute that the Intercom workspace does not define yet."""

    CREATE = "create"
    DROP = "drop"
    STRICT = "strict"


class LeadHandling(StrEnum):
    """What an identify with an email but no userId becomes."""

    LEAD = "lead"  # an Intercom lead, merged into the user once a userId arrives for that email
    USER = "user"  # a user addressed by email only
    SKIP = "skip"  # nothing: only identified users reach Intercom


class Settings(BaseModel):
    """The destination's configuration. Secrets are read through `secrets.py`, never stored here raw."""

    write_keys: tuple[str, ...] = ()
    write_keys_parameter: str | None = None
    webhook_secrets: tuple[str, ...] = Field(default=(), repr=False)  # X-Signature secrets of pipeline webhooks
    webhook_secrets_parameter: str | None = None
    intercom_access_token: str | None = Field(default=None, repr=False)
    intercom_token_parameter: str | None = None
    intercom_region: str = "US"
    intercom_api_base: str | None = None
    intercom_version: str = DEFAULT_INTERCOM_VERSION
    custom_attribute_policy: AttributePolicy = AttributePolicy.CREATE
    custom_attribute_creates_per_minute: int = Field(default=20, ge=0, le=1000)
    messenger_writable_attributes: bool = False  # attributes we create may be set by the Messenger (web mode)
    browser_requests_per_minute: int = Field(default=600, gt=0)  # per source address and instance, browser keys
    lead_handling: LeadHandling = LeadHandling.LEAD
    actions_file: str | None = None  # the actions file (triggers and mappings); default: the one in the layer
    actions_parameter: str | None = None  # an SSM parameter holding the actions file's JSON (wins over the file)
    max_event_bytes: int = Field(default=32 * 1024, gt=0)
    max_batch_bytes: int = Field(default=500 * 1024, gt=0)
    max_batch_events: int = Field(default=2500, gt=0)
    intercom_connect_timeout: float = Field(default=2.0, gt=0)
    intercom_read_timeout: float = Field(default=3.0, gt=0)
    delivery_concurrency: int = Field(default=16, gt=0, le=64)
    delivery_budget_seconds: float = Field(default=5.0, gt=0)
    cache_ttl_seconds: float = Field(default=600.0, ge=0)
    unchanged_write_window_seconds: float = Field(default=3600.0, ge=0, le=86400)
    # Durability (the dead-letter queue, its parking queue, and messageId de-duplication).
    dead_letter_queue_url: str | None = None
    parking_queue_url: str | None = None
    idempotency_table: str | None = None
    idempotency_window_seconds: int = Field(default=24 * 3600, gt=0)
    redrive_budget_seconds: float = Field(default=50.0, gt=0)
    redrive_backoff_seconds: int = Field(default=30, gt=0)  # first retry; doubles per failed try, capped at 12 h
    redrive_max_replays: int = Field(default=10, gt=0, le=1000)  # failed tries before the redrive parks it
    redrive_live_share: float = Field(default=0.2, ge=0, lt=1)  # of Intercom's window, left to live traffic
    redrive_round_seconds: float = Field(default=90.0, gt=0)  # well inside the dead-letter queue's 120 s visibility
    # Backfill from an archive (docs/backfill.md).
    backfill_share: float | None = Field(default=None, gt=0, le=1)  # of Intercom's window; default: 1 - live share
    backfill_ledger_days: int = Field(default=400, gt=0)  # how long a backfilled messageId counts as done
    backfill_chunk_events: int = Field(default=200, gt=0, le=2500)
    backfill_chunk_seconds: float = Field(default=30.0, gt=0, le=300)
    backfill_write_key: str | None = Field(default=None, repr=False)  # the key the archive's events were sent with
    backfill_bucket: str | None = None
    backfill_queue_url: str | None = None
    intercom_rate_limit_per_minute: int = Field(default=10000, gt=0)  # for estimates; Intercom's headers rule
    intercom_wait_for_window: bool = False  # wait out a spent rate-limit window (the backfill's functions only)

    @field_validator("intercom_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in REGION_API_BASES:
            raise ValueError(f"INTERCOM_REGION must be one of {', '.join(REGION_API_BASES)}")
        return region

    @property
    def backfill_ledger_seconds(self) -> int:
        return self.backfill_ledger_days * 86400

    @property
    def api_base(self) -> str:
        """INTERCOM_API_BASE wins (a sandbox or a proxy); otherwise the region's host."""
        return (self.intercom_api_base or REGION_API_BASES[self.intercom_region]).rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        fields = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper(), "").strip() != ""}
        for several in ("write_keys", "webhook_secrets"):
            if several in fields:
                fields[several] = split_keys(fields[several])  # type: ignore[assignment]
        return cls.model_validate(fields)


def split_keys(raw: str) -> tuple[str, ...]:
    """Several write keys may be valid at once (rotation): comma or newline separated."""
    return tuple(key.strip() for key in raw.replace("\n", ",").split(",") if key.strip())


@cache
def get_settings() -> Settings:
    return Settings.from_env()
