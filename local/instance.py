"""One ingest function instance in its own OS process, as one Lambda execution environment: its own warm
memory, one request at a time. Started by local.instances, which hands it the listening socket (file
descriptor LISTEN_FD) and its environment; it serves until it is stopped or killed."""

from __future__ import annotations

import os
import signal
import socket
import threading

from .adapter import Adapter, load_handler
from .stack import ROOT


def main() -> None:
    listening = socket.socket(fileno=int(os.environ["LISTEN_FD"]))
    adapter = Adapter(load_handler(ROOT / "functions" / "ingest" / "app.py", "ingest_app"), listening=listening)
    adapter.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    parent = os.getppid()
    while not stopped.wait(1) and os.getppid() == parent:  # the endpoint gone (killed): so is its instance
        pass
    adapter.stop()


if __name__ == "__main__":
    main()
