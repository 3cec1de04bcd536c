"""Custom attributes the workspace does not define yet: create them, drop them, or fail (CUSTOM_ATTRIBUTE_POLICY).

Intercom rejects a whole contact or company update that names one undefined custom attribute, so
this runs before every write. The list of defined names is cached per model for `ttl` seconds; a
create adds to the cache, so each new attribute costs one call per warm function, not one per event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from aws_lambda_powertools import Logger

from .intercom import IntercomClient, PermanentError
from .mapping.plans import Scalar
from .settings import AttributePolicy

logger = Logger(child=True)
Model = Literal["contact", "company"]


class UndefinedAttributeError(PermanentError):
    """CUSTOM_ATTRIBUTE_POLICY=strict and the event carries attributes the workspace lacks."""

    def __init__(self, model: Model, names: list[str]) -> None:
        super().__init__(None, "custom_attribute_undefined", f"{model} custom attributes not defined: {names}")


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
        self, client: IntercomClient, policy: AttributePolicy, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._policy = policy
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._known: dict[Model, tuple[float, set[str]]] = {}

    def prepare(self, model: Model, attributes: dict[str, Scalar]) -> dict[str, Scalar]:
        """The attributes safe to send, after applying the policy to the undefined ones."""
        missing = self._missing(model, attributes)
        if not missing:
            return attributes
        if self._policy is AttributePolicy.STRICT:
            raise UndefinedAttributeError(model, missing)
        if self._policy is AttributePolicy.DROP:
            logger.warning("dropping undefined custom attributes", extra={"model": model, "attributes": missing})
            return {name: value for name, value in attributes.items() if name not in missing}
        with self._create_lock:  # concurrent deliveries would otherwise race to create the same name
            for name in self._missing(model, attributes):
                self._create(model, name, data_type(attributes[name]))
        return attributes

    def _missing(self, model: Model, attributes: dict[str, Scalar]) -> list[str]:
        if not attributes:
            return []
        defined = self._defined(model)
        return [name for name in attributes if name not in defined]

    def _create(self, model: Model, name: str, kind: str) -> None:
        try:
            self._client.create_attribute(model, name, kind)
        except PermanentError as exc:
            if "already have" not in exc.message:  # created elsewhere since we listed: that is fine
                raise
        with self._lock:
            self._known[model][1].add(name)
        logger.info("created custom attribute", extra={"model": model, "attribute": name, "data_type": kind})

    def forget(self, model: Model) -> None:
        """Intercom said an attribute is missing after all (archived meanwhile): re-read the list next time."""
        with self._lock:
            self._known.pop(model, None)

    def _defined(self, model: Model) -> set[str]:
        with self._lock:
            cached = self._known.get(model)
            if cached and self._clock() - cached[0] < self._ttl:
                return cached[1]
        names = {
            str(item["name"])
            for item in self._client.list_attributes(model)
            if item.get("custom") and not item.get("archived")
        }
        with self._lock:
            self._known[model] = (self._clock(), names)
        return names
