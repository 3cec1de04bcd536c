"""Builds the long-lived objects once per warm function: settings, the urllib3 pool, caches, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

from urllib3.util import Timeout

from .attributes import AttributeRegistry
from .delivery import ContactCache, Deliverer
from .ingest import Ingest
from .intercom import IntercomClient, RateLimitState, new_pool
from .secrets import intercom_token, write_keys
from .settings import get_settings


@cache
def ingest_service() -> Ingest:
    settings = get_settings()
    client = IntercomClient(
        new_pool(settings.delivery_concurrency),
        settings.api_base,
        lambda: intercom_token(settings),
        settings.intercom_version,
        Timeout(connect=settings.intercom_connect_timeout, read=settings.intercom_read_timeout),
        RateLimitState(),
    )
    registry = AttributeRegistry(client, settings.custom_attribute_policy, settings.cache_ttl_seconds)
    deliverer = Deliverer(client, registry, ContactCache(settings.cache_ttl_seconds))
    executor = ThreadPoolExecutor(max_workers=settings.delivery_concurrency, thread_name_prefix="deliver")
    return Ingest(settings, lambda: write_keys(settings), deliverer, executor)
