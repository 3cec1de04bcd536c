"""The sandbox answering the Intercom client in this process, no socket: a urllib3 pool's `request`, as
the client calls it, handed to the sandbox's own request handler (the same validation and answers as over
HTTP). For fast unit tests of the deliverer, ingest and the redrive."""

from __future__ import annotations

import io
from http.client import RemoteDisconnected
from typing import Any

import urllib3
from urllib3.exceptions import ProtocolError

from local.sandbox.server import HangUp, Sandbox


class InProcessPool:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, **_: Any
    ) -> urllib3.HTTPResponse:
        target = "/" + url.split("://", 1)[-1].partition("/")[2]
        lowered = {name.lower(): value for name, value in (headers or {}).items()}  # as the HTTP handler hands them
        try:
            status, answer_headers, data = self.sandbox.serve(method, target, lowered, body or b"")
        except HangUp:  # what urllib3 raises (with retries=False) when the server closes without answering
            raise ProtocolError("Connection aborted.", RemoteDisconnected("closed without response")) from None
        return urllib3.HTTPResponse(body=io.BytesIO(data), status=status, headers=answer_headers, preload_content=True)
