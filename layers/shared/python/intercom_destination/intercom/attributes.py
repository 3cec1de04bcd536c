"""Custom attributes the workspace does not define yet: create them, drop them, or fail (CUSTOM_ATTRIBUTE_POLICY).

Intercom rejects a whole contact or company update that names one undefined custom attribute, so
this runs before every write. The list of defined names is cached per model for `ttl` seconds; a
create adds to the cache, so each new attribute costs one call per warm function, not one per event.
`create` is bounded: names that look like data rather than a field are not created, nor more than
CUSTOM_ATTRIBUTE_CREATES_PER_MINUTE per warm function; such attributes are dropped from the write (a
warning and the `custom_attributes_dropped` metric), never failing the event.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from intercom_destination.config.settings import AttributePolicy
from intercom_destination.intercom.client import IntercomClient
from intercom_destination.intercom.errors import PermanentError
from intercom_destination.limits import Budget
from intercom_destination.mapping.plans import Scalar

logger = Logger(child=True)
metrics = Metrics()
Model = Literal["contact", "company"]
_PLAUSIBLE = re.compile(r"[^\W_][\w\- ]{0,99}")
_DATA_LIKE = re.compile(r"[0-9a-fA-F]{16}|[0-9]{8}")


class UndefinedAttributeError(PermanentError):
    """CUSTOM_ATTRIBUTE_POLICY=strict and the event carries attributes the workspace lacks."""

    def __init__(self, model: Model, names: list[str]) -> None:
        super().__init__(None, "custom_attribute_undefined", f"{model} custom attributes not defined: {names}")


def plausible_name(name: str) -> bool:
    """A name a person would define: letters or digits first, then letters, digits, `_`, `-` or spaces, at
    most 100 characters, and no long run of digits or hex (a key that is data: an id, a hash, a timestamp)."""
    return bool(_PLAUSIBLE.fullmatch(name)) and not _DATA_LIKE.search(name)


def data_type(value: Scalar) -> str:
    """The Intercom data type a first value implies (bool is checked before int: it is one in Python)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


class AttributeRegistry:
    def __init__(
        self,
        client: IntercomClient,
        policy: AttributePolicy,
        ttl: float,
        creates_per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
        messenger_writable: bool = False,
    ) -> None:
        self._client = client
        self._policy = policy
        self._messenger_writable = messenger_writable
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._creating: dict[tuple[Model, str], threading.Lock] = {}
        self._budget = Budget(creates_per_minute, 60.0, clock)
        self._known: dict[Model, tuple[float, set[str]]] = {}
        self._listing: dict[Model, threading.Lock] = {"contact": threading.Lock(), "company": threading.Lock()}

    def prepare(self, model: Model, attributes: dict[str, Scalar]) -> dict[str, Scalar]:
        """The attributes safe to send, after applying the policy to the undefined ones."""
        missing = self._missing(model, attributes)
        if not missing:
            return attributes
        if self._policy is AttributePolicy.STRICT:
            raise UndefinedAttributeError(model, missing)
        dropped = missing if self._policy is AttributePolicy.DROP else self._create_missing(model, missing, attributes)
        if dropped:
            logger.warning("dropping undefined custom attributes", extra={"model": model, "attributes": dropped})
            metrics.add_metric(name="custom_attributes_dropped", unit=MetricUnit.Count, value=len(dropped))
        return {name: value for name, value in attributes.items() if name not in dropped}

    def _create_missing(self, model: Model, missing: list[str], attributes: dict[str, Scalar]) -> list[str]:
        """Create what the policy allows; return the names left undefined (implausible, over the per-minute
        budget, or refused by Intercom). Only creations of the same name wait for each other."""
        dropped = []
        for name in missing:
            if not plausible_name(name) or not self._budget.take():
                dropped.append(name)
                continue
            with self._lock:
                name_lock = self._creating.setdefault((model, name), threading.Lock())
            with name_lock:
                if name in self._defined(model):  # created by a concurrent delivery meanwhile
                    continue
                if not self._create(model, name, data_type(attributes[name])):
                    dropped.append(name)
        return dropped

    def _missing(self, model: Model, attributes: dict[str, Scalar]) -> list[str]:
        if not attributes:
            return []
        defined = self._defined(model)
        return [name for name in attributes if name not in defined]

    def _create(self, model: Model, name: str, kind: str) -> bool:
        """False when Intercom refuses the name for good (e.g. characters it does not allow)."""
        try:
            self._client.create_attribute(model, name, kind, self._messenger_writable)
        except PermanentError as exc:
            if "already have" not in exc.message:  # created elsewhere since we listed: that is fine
                logger.warning(
                    "custom attribute refused", extra={"model": model, "attribute": name, "error": exc.message}
                )
                return False
        with self._lock:
            self._known[model][1].add(name)
        logger.info("created custom attribute", extra={"model": model, "attribute": name, "data_type": kind})
        return True

    def forget(self, model: Model) -> None:
        """Intercom said an attribute is missing after all (archived meanwhile): re-read the list next time."""
        with self._lock:
            self._known.pop(model, None)

    def _defined(self, model: Model) -> set[str]:
        """The model's custom attributes: listed once per TTL, by one delivery thread while the others wait."""
        if (cached := self._cached(model)) is not None:
            return cached
        with self._listing[model]:
            if (cached := self._cached(model)) is not None:  # listed by another thread while this one waited
                return cached
            names = {
                str(item["name"])
                for item in self._client.list_attributes(model)
                if item.get("custom") and not item.get("archived")
            }
            with self._lock:
                self._known[model] = (self._clock(), names)
            return names

    def _cached(self, model: Model) -> set[str] | None:
        with self._lock:
            cached = self._known.get(model)
            return cached[1] if cached and self._clock() - cached[0] < self._ttl else None
