"""A local stand-in for API Gateway (HTTP API, payload format 2.0) in front of the real Lambda handler.

Each HTTP request becomes the event API Gateway would deliver and the handler's answer becomes the
HTTP response, so local runs and integration tests exercise exactly the deployed code path.
Invocations are serialized, as in one Lambda execution environment.
"""

from __future__ import annotations

import base64
import importlib.util
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .server import AnyMethodHandler, LocalServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaContext:
    """The attributes powertools reads from the Lambda context object."""

    def __init__(self, function_name: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def load_handler(path: Path, module_name: str) -> Handler:
    """Import a function's app.py by path (every function's module is called `app`)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.lambda_handler
    return handler


def to_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The API Gateway HTTP API v2 event for a request (headers lower-cased, repeats comma-joined)."""
    parts = urlsplit(target)
    now = time.time()
    try:
        text = body.decode("utf-8")
        binary = "content-encoding" in headers
    except UnicodeDecodeError:
        binary = True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": binary,
    }
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query))
    if body:
        event["body"] = base64.b64encode(body).decode() if binary else text
    return event


class Adapter:
    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        function_name: str = "ingest",
        listening: socket.socket | None = None,
    ):
        """`listening`: serve a socket bound already (an instance's, inherited from the endpoint in front)."""
        self._handler = handler
        self._function_name = function_name
        self._invoke_lock = threading.Lock()
        self._server = LocalServer((host, port), self._request_handler(), bind_and_activate=listening is None)
        if listening is not None:
            self._server.socket.close()
            self._server.socket = listening
            self._server.server_address = listening.getsockname()
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-adapter", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Adapter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._invoke_lock:
            return self._handler(event, LambdaContext(self._function_name, timeout_seconds=12))

    def _request_handler(self) -> type[AnyMethodHandler]:
        adapter = self

        class RequestHandler(AnyMethodHandler):
            def handle_request(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                result = adapter.invoke(to_event(self.command, self.path, headers, body, self.client_address[0]))
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                self.send_response(int(result.get("statusCode", 200)))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, str(value))
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    for value in values:
                        self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return RequestHandler
