"""One cold start of the ingest function, run in a new process by benchmarks.efficiency: imports what the
function imports (boto3 included) and handles one request against instant stand-ins; prints the timings."""

import json
import time


def main() -> None:
    started = time.perf_counter()
    from benchmarks.instant import api_request, instant_ingest

    with instant_ingest() as handle:
        imported = time.perf_counter()
        identify = {"type": "identify", "userId": "cold", "messageId": "m1", "traits": {"email": "c@example.com"}}
        reply = handle(
            api_request([identify, {"type": "track", "userId": "cold", "event": "Viewed", "messageId": "m2"}])
        )
        answered = time.perf_counter()
    assert reply["statusCode"] == 200, reply
    print(json.dumps({"import": imported - started, "first": answered - imported}))


if __name__ == "__main__":
    main()
