"""Several ingest function instances behind one endpoint, as Lambda runs a busy function: each instance is
its own OS process with its own warm memory, handling one request at a time; requests are spread
round-robin. A request with `X-Dev-Instance: i` goes to instance i; every answer says which instance
answered. An instance that dies mid-request is a crash: that request is answered 500
`{"message": "Internal Server Error"}` (what an HTTP API answers when its function dies) and a fresh, cold
instance takes its place. `GET /_dev/instances` lists them.

Each instance serves a listening socket the endpoint keeps open, so a replacement inherits it and requests
that arrive while it starts wait in the socket's backlog, as for a cold start."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .server import AnyMethodHandler, LocalServer

HEADER = "X-Dev-Instance"
CRASHED = json.dumps({"message": "Internal Server Error"}).encode()
#: Longer than any answer the function may take (Lambda's 12 s timeout, then some).
FORWARD_TIMEOUT_SECONDS = 30


@dataclass
class _Instance:
    number: int
    listening: socket.socket
    process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        port: int = self.listening.getsockname()[1]
        return port


class Instances:
    def __init__(self, count: int, env: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> None:
        if count < 1:
            raise ValueError("INSTANCES must be 1 or more")
        self._env = dict(env)
        self._lock = threading.Lock()
        self._stopping = False
        self._instances = []
        for number in range(1, count + 1):
            listening = socket.create_server((host, 0), backlog=64)
            listening.set_inheritable(True)
            self._instances.append(_Instance(number, listening))
        self._turns = itertools.cycle(range(count))
        self._server = LocalServer((host, port), self._request_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="instances", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Instances:
        for instance in self._instances:
            self._spawn(instance)
        self._thread.start()
        return self

    def configure(self, env: dict[str, str]) -> None:
        """New settings: every instance is replaced by a cold one that reads them."""
        self._env = dict(env)
        for instance in self._instances:
            self.restart(instance.number)

    def restart(self, number: int) -> None:
        """A cold start of instance `number` (its memory is gone)."""
        instance = self._instances[number - 1]
        with self._lock:
            process = instance.process
            instance.process = None  # the watcher of the old process does not replace it
        if process:
            process.terminate()
            process.wait()
        self._spawn(instance)

    def kill(self, number: int) -> int:
        """SIGKILL instance `number`, as Lambda ends an environment mid-request; returns its pid."""
        process = self._instances[number - 1].process
        assert process is not None
        process.kill()
        return process.pid

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"instance": instance.number, "pid": instance.process.pid if instance.process else None}
            for instance in self._instances
        ]

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            processes = [instance.process for instance in self._instances if instance.process]
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        self._server.shutdown()
        self._server.server_close()
        for instance in self._instances:
            instance.listening.close()

    def _spawn(self, instance: _Instance) -> None:
        fd = instance.listening.fileno()
        env = {**os.environ, **self._env, "LISTEN_FD": str(fd)}
        process = subprocess.Popen([sys.executable, "-m", "local.instance"], env=env, pass_fds=(fd,))
        with self._lock:
            if self._stopping:
                process.kill()
                return
            instance.process = process
        threading.Thread(target=self._watch, args=(instance, process), daemon=True).start()

    def _watch(self, instance: _Instance, process: subprocess.Popen[bytes]) -> None:
        """A process that ends on its own (killed) is replaced by a cold one."""
        process.wait()
        with self._lock:
            replace = not self._stopping and instance.process is process
            if replace:
                instance.process = None
        if replace:
            self._spawn(instance)

    def _choose(self, asked: str | None) -> _Instance | None:
        if asked is None:
            with self._lock:
                return self._instances[next(self._turns)]
        if asked.isdigit() and 1 <= int(asked) <= len(self._instances):
            return self._instances[int(asked) - 1]
        return None

    def forward(
        self, instance: _Instance, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The instance's answer; a connection that breaks mid-request is the instance's death: 500."""
        connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=FORWARD_TIMEOUT_SECONDS)
        try:
            connection.request(method, target, body=body, headers={**headers, "Connection": "close"})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except (OSError, http.client.HTTPException):
            return 500, [("Content-Type", "application/json")], CRASHED
        finally:
            connection.close()

    def _request_handler(self) -> type[AnyMethodHandler]:
        instances = self

        class RequestHandler(AnyMethodHandler):
            def handle_request(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] == "/_dev/instances":
                    self._answer(200, [("Content-Type", "application/json")], json.dumps(instances.listing()).encode())
                    return
                instance = instances._choose(self.headers.get(HEADER))
                if instance is None:
                    message = f"{HEADER} must be 1..{len(instances._instances)}"
                    self._answer(400, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())
                    return
                headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
                status, answer_headers, data = instances.forward(instance, self.command, self.path, headers, body)
                self._answer(status, answer_headers, data, instance.number)

            def _answer(
                self, status: int, headers: list[tuple[str, str]], data: bytes, number: int | None = None
            ) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "date", "server", "transfer-encoding"):
                        self.send_header(name, value)
                if number is not None:
                    self.send_header(HEADER, str(number))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return RequestHandler
