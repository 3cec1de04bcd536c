"""What a cold start of the ingest function imports (#23 §1): the API document's own models and the
Swagger UI only when `/openapi.json` or `/docs` is asked for (about 40 ms of every cold start else)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from benchmarks.instant import api_request, instant_ingest
with instant_ingest() as handle:
    loaded = set(sys.modules)
    answer = handle(api_request([{"type": "track", "userId": "u1", "event": "Viewed", "messageId": "m1"}]))
    answered = set(sys.modules)
print(json.dumps({"status": answer["statusCode"], "loaded": sorted(loaded), "answered": sorted(answered)}))
"""
_DOCUMENT_ONLY = (
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
)


def test_a_cold_start_and_its_first_request_leave_the_api_document_unloaded() -> None:
    from benchmarks.instant import lambda_env

    env = {**lambda_env(), "PYTHONPATH": f"{ROOT / 'layers' / 'shared' / 'python'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    for module in _DOCUMENT_ONLY:
        assert module not in result["loaded"]
        assert module not in result["answered"]
