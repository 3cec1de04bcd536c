"""The HTTP server both local services use: threaded, keep-alive, and quiet about clients hanging up."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A pooled client closing its keep-alive connection at exit is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class AnyMethodHandler(BaseHTTPRequestHandler):
    """Sends every method to `handle_request`; the services log requests their own way, not per line here."""

    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3's pools expect

    def do_GET(self) -> None:
        self.handle_request()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_request(self) -> None:
        raise NotImplementedError
