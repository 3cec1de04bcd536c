"""`make dev`: run the destination locally, no AWS account and no Docker needed.

Environment: PORT (3000), WRITE_KEY (dev-write-key), WEBHOOK_SECRET (none: the shared secret(s) that sign
pipeline webhooks, comma-separated), ACTIONS_FILE (the layer's default actions; an invalid file stops it), INTERCOM_API_BASE and INTERCOM_ACCESS_TOKEN (to use a real workspace
instead of the sandbox), SANDBOX_PORT (3001), AWS_PORT (3002: SQS and DynamoDB), INSTANCES (1: ingest function
instances, each its own process, as Lambda runs several warm environments at once).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from intercom_destination.config.settings import split_keys

from local import actions, environment, stack

BANNER = """
intercom-destination is running locally.

  endpoint       {url}          (POST /v1/batch, /v1/identify, /v1/track, /v1/group, ...; GET /health)
  preview        {url}/v1/preview   (what events would send, nothing sent; or `make preview EVENT=...`)
  write key      {write_key}
  web mode       {url}/v1/web/intercom.js
  Intercom       {intercom}
  SQS, DynamoDB  {aws}   (moto)  dead-letter queue {queue}
  instances      {instances} ingest function instance(s), each its own process and warm memory; requests
                 round-robin, `X-Dev-Instance: i` picks one and every answer names it; GET {url}/_dev/instances
                 lists them. `kill -9` one mid-request: that request gets 500, a cold instance replaces it.

Try it:

  curl -s -u {write_key}: {url}/v1/batch -d '{{"batch": [
    {{"type": "identify", "userId": "u-1", "traits": {{"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"}}}},
    {{"type": "group", "userId": "u-1", "groupId": "acme", "traits": {{"name": "Acme Inc", "employees": 42}}}},
    {{"type": "track", "userId": "u-1", "event": "Order Completed", "properties": {{"revenue": 19.99, "currency": "USD"}}}}
  ]}}'
{see}
Replay the dead-letter queue with `make replay` (another terminal); Ctrl-C stops everything.
"""


def main() -> None:
    environment.settings()  # a wrong setting (LEAD_HANDLING=...) never reaches traffic: refuse to start
    actions_file = os.environ.get("ACTIONS_FILE") or None
    if actions_file:
        actions_file = str(Path(actions_file).resolve())
        if actions.check(environment.settings({"ACTIONS_FILE": actions_file})):
            sys.exit("make dev: not started; fix the actions file (make actions-check) and run it again")
    api_base = environment.api_base()
    write_key = os.environ.get("WRITE_KEY", "dev-write-key")
    if not split_keys(write_key):
        sys.exit("make dev: WRITE_KEY is empty: set the key your SDKs send, e.g. WRITE_KEY=my-key make dev")
    ports = {name: environment.port(name) for name in environment.PORTS}
    instances = environment.instances()
    for name, number in ports.items():
        if not (name == "SANDBOX_PORT" and api_base) and not stack.free("127.0.0.1", number):
            sys.exit(
                f"make dev: port {number} ({name}) is in use, perhaps by another make dev: stop it, or run "
                f"{name}={number + 100} make dev"
            )
    running = stack.start(
        port=ports["PORT"],
        sandbox_port=ports["SANDBOX_PORT"],
        aws_port=ports["AWS_PORT"],
        write_key=write_key,
        intercom_api_base=api_base,
        intercom_token=os.environ.get("INTERCOM_ACCESS_TOKEN"),
        instances=instances,
    )
    overrides = {}
    if webhook_secret := os.environ.get("WEBHOOK_SECRET"):
        overrides["WEBHOOK_SECRETS"] = webhook_secret
        print(f"Pipeline webhooks: {running.url}/v1/webhook, signed (X-Signature) with WEBHOOK_SECRET", flush=True)
    if actions_file:
        overrides["ACTIONS_FILE"] = actions_file
    if overrides:
        running.reconfigure(**overrides)
    sandbox = running.sandbox
    print(
        BANNER.format(
            url=running.url,
            write_key=split_keys(running.write_key)[0],  # several keys (rotation): the curl presents one
            intercom=f"sandbox at {sandbox.url}" if sandbox else running.intercom_api_base,
            aws=running.resources.endpoint,
            queue=running.resources.dead_letter_queue_url.rsplit("/", 1)[1],
            instances=instances,
            see=f"\nThen see what Intercom received:\n\n  curl -s {sandbox.url}/_sandbox/state\n" if sandbox else "",
        ),
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    running.stop()


if __name__ == "__main__":
    main()
