"""The whole destination on one machine: Intercom sandbox, SQS (moto server mode), and the ingest
function behind the API Gateway adapter. Used by `make dev`, the integration tests and the benchmark."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
from intercom_destination.settings import Settings, get_settings
from moto.server import ThreadedMotoServer

from .adapter import Adapter, load_handler
from .sandbox import DEFAULT_TOKEN, Sandbox

ROOT = Path(__file__).resolve().parent.parent
DEAD_LETTER_QUEUE = "intercom-destination-dlq"
#: What the template sets in AWS, minus secrets, with local defaults.
BASE_ENV = {
    "POWERTOOLS_SERVICE_NAME": "intercom-destination",
    "POWERTOOLS_METRICS_NAMESPACE": "IntercomDestination",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would drown the logs locally
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
}


@dataclass
class Stack:
    url: str
    write_key: str
    intercom_api_base: str
    intercom_token: str
    queue_url: str
    sqs_endpoint: str
    sandbox: Sandbox | None
    adapter: Adapter
    sqs: ThreadedMotoServer

    def stop(self) -> None:
        self.adapter.stop()
        if self.sandbox:
            self.sandbox.stop()
        self.sqs.stop()


def configure(**env: str) -> None:
    """Set function environment variables and make the next invocation read them (a new cold start)."""
    from intercom_destination.wiring import ingest_service  # after BASE_ENV: its loggers read the service name

    os.environ.update(env)
    get_settings.cache_clear()
    ingest_service.cache_clear()


def function_env(stack: Stack, **overrides: str) -> dict[str, str]:
    """Every setting back to its default, pointed at this stack's Intercom, plus `overrides`."""
    env = {name.upper(): "" for name in Settings.model_fields}
    env |= {
        "WRITE_KEYS": stack.write_key,
        "INTERCOM_API_BASE": stack.intercom_api_base,
        "INTERCOM_ACCESS_TOKEN": stack.intercom_token,
    }
    return env | overrides


def start(
    *,
    port: int = 0,
    sandbox_port: int = 0,
    sqs_port: int = 0,
    write_key: str = "dev-write-key",
    intercom_api_base: str | None = None,
    intercom_token: str | None = None,
    host: str = "127.0.0.1",
) -> Stack:
    sandbox = None
    if not intercom_api_base:
        sandbox = Sandbox(host=host, port=sandbox_port).start()
        intercom_api_base, intercom_token = sandbox.url, DEFAULT_TOKEN
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    sqs = ThreadedMotoServer(ip_address=host, port=sqs_port, verbose=False)
    sqs.start()
    sqs_host, sqs_bound = sqs.get_host_and_port()
    sqs_endpoint = f"http://{sqs_host}:{sqs_bound}"
    os.environ.update(BASE_ENV)
    queue_url = boto3.client("sqs", endpoint_url=sqs_endpoint).create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    handler = load_handler(ROOT / "functions" / "ingest" / "app.py", "ingest_app")
    adapter = Adapter(handler, host=host, port=port).start()
    running = Stack(
        adapter.url, write_key, intercom_api_base, intercom_token or "", queue_url, sqs_endpoint, sandbox, adapter, sqs
    )
    configure(**function_env(running), AWS_ENDPOINT_URL_SQS=sqs_endpoint)
    return running
