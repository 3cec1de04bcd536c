"""One cold start of the ingest function split into its steps, run in a new process by
benchmarks.coldstart313: each step is what importing (or doing) it adds to what came before, in the order
the function meets them, so a shared dependency is charged to the first step that needs it (botocore to
the AWS SDK, not to boto3). The harness's own imports are timed apart and left out. Prints JSON."""

import importlib
import json
import time

#: (step, modules imported in it), in order.
IMPORTS = (
    ("urllib3 (the Intercom client's HTTP)", ("urllib3",)),
    ("botocore (AWS SDK core: session, client, auth)", ("botocore.session", "botocore.client")),
    ("boto3 over botocore (s3transfer, resources)", ("boto3",)),
    ("pydantic", ("pydantic",)),
    ("powertools: Logger, Metrics, event handler", ("aws_lambda_powertools", "aws_lambda_powertools.event_handler")),
    ("powertools: parameters (the SSM secrets)", ("aws_lambda_powertools.utilities.parameters",)),
    ("the layer (intercom_destination)", ("intercom_destination.wiring",)),
)


def main() -> None:
    steps: dict[str, float] = {}
    for name, modules in IMPORTS:
        started = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        steps[name] = time.perf_counter() - started
    started = time.perf_counter()
    from benchmarks.instant import api_request, instant_ingest  # the harness: not the function's

    harness = time.perf_counter() - started
    started = time.perf_counter()
    with instant_ingest() as handle:
        steps["the function's app.py (routes, answer models)"] = time.perf_counter() - started
        from intercom_destination import wiring

        started = time.perf_counter()
        wiring.ingest_service()
        steps["first request: settings, boto3 clients, pools"] = time.perf_counter() - started
        identify = {"type": "identify", "userId": "cold", "messageId": "m1", "traits": {"email": "c@example.com"}}
        track = {"type": "track", "userId": "cold", "event": "Viewed", "messageId": "m2"}
        started = time.perf_counter()
        reply = handle(api_request([identify, track]))
        steps["first request: the rest (2 events delivered)"] = time.perf_counter() - started
    assert reply["statusCode"] == 200, reply
    print(json.dumps({"steps": steps, "harness": harness}))


if __name__ == "__main__":
    main()
