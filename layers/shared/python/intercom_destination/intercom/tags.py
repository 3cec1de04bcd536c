"""The workspace's tags by name, for tagging contacts (which takes a tag's id): listed once per function
(GET /tags), a missing one created once (POST /tags), as the attribute registry remembers attributes.
Intercom compares tag names without case, and so does this."""

from __future__ import annotations

import threading

from intercom_destination.intercom.client import IntercomClient


class TagRegistry:
    def __init__(self, client: IntercomClient) -> None:
        self._client = client
        self._ids: dict[str, str] | None = None  # casefolded name → id
        self._lock = threading.Lock()

    def id_of(self, name: str) -> str:
        """The tag's id, created if the workspace lacks it."""
        with self._lock:
            ids = self._loaded()
            if name.casefold() not in ids:
                ids[name.casefold()] = self._client.create_tag(name)
            return ids[name.casefold()]

    def known(self, name: str) -> str | None:
        """The tag's id if the workspace has it (a tag it lacks is on nobody: nothing to remove)."""
        with self._lock:
            return self._loaded().get(name.casefold())

    def _loaded(self) -> dict[str, str]:
        if self._ids is None:
            self._ids = {name.casefold(): tag_id for name, tag_id in self._client.list_tags().items()}
        return self._ids
