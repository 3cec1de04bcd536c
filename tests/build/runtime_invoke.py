"""Run by tests/build/test_runtime_sdk.py under Python 3.13 with only the layer's packages and one
boto3/botocore pair on the path, as the Lambda runtime runs a function: import one function's handler,
invoke it once with the given event, and print what came back (or what was raised) as one JSON line.

Usage: python runtime_invoke.py <function folder> <event JSON file, or -> [event JSON]"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


class Context:
    function_name = "runtime-check"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:runtime-check"
    aws_request_id = "runtime-check-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def main() -> None:
    folder, event_file = Path(sys.argv[1]), sys.argv[2]
    event = {} if event_file == "-" else json.loads(Path(event_file).read_text())
    if len(sys.argv) > 3 and sys.argv[3]:
        event = json.loads(sys.argv[3])
    sys.path.insert(0, str(folder))
    import botocore

    outcome: dict[str, object] = {"botocore": botocore.__version__}
    try:
        import app

        outcome["returned"] = app.lambda_handler(event, Context())
    except Exception as exc:  # the point: which error, and whether it is ours
        outcome["raised"] = type(exc).__name__
        outcome["message"] = str(exc)[:500]
        outcome["module"] = type(exc).__module__
        outcome["traceback"] = traceback.format_exc()[-2000:]
    print(json.dumps(outcome, default=str))


if __name__ == "__main__":
    main()
