"""The functions as the Lambda runtime runs them: Python 3.13, the layer's packages, and the runtime's own
boto3/botocore, which AWS varies by runtime and region (docs/runtime.md). Each handler is imported and
invoked once with AWS unreachable, on the oldest SDK the python3.13 runtime may carry and on the newest
(the one this project is developed with): ingest answers 503 with Retry-After; the redrive and the forget
fail with their own clear error, never a TypeError or KeyError from a parameter an older botocore lacks.

Needs Python 3.13 (`PYENV_VERSION=3.13.0 python3.13`, on every machine of this project) and PyPI, once:
the packages are installed into `.cache/runtime-sdk/` and reused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.events import sqs_record

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "runtime-sdk"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def _locked(name: str) -> str:
    found = re.search(rf"^{name}==(\S+)", (ROOT / "requirements" / "dev.lock").read_text(), re.MULTILINE)
    assert found, name
    return found.group(1)


#: (boto3, botocore, s3transfer): 1.34.0 predates both `MessageSystemAttributeNames` (1.34.101) and
#: Config's `account_id_endpoint_mode` (1.37.0); the newest is what the project is developed with.
SDKS = {
    "oldest": ("1.34.0", "1.34.0", "0.9.0"),
    "newest": (_locked("boto3"), _locked("botocore"), _locked("s3transfer")),
}


def _python313() -> str:
    env = {**os.environ, "PYENV_VERSION": "3.13.0"}
    found = shutil.which("python3.13", path=env.get("PATH"))
    if not found:
        pytest.fail("Python 3.13 is needed (the Lambda runtime's): `PYENV_VERSION=3.13.0 python3.13` was not found")
    return found


def _pip(python: str, target: Path, *args: str) -> None:
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target)]
    env = {**os.environ, "PYENV_VERSION": "3.13.0", "PIP_ROOT_USER_ACTION": "ignore"}
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=600)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", params=list(SDKS))
def runtime(request: pytest.FixtureRequest) -> tuple[str, Path, str]:
    """Python 3.13 and a folder with the layer's locked packages plus one boto3/botocore pair."""
    python = _python313()
    boto3, botocore, s3transfer = SDKS[request.param]
    target = CACHE / f"boto3-{boto3}"
    if not (target / ".installed").exists():
        shutil.rmtree(target, ignore_errors=True)
        lock = str(ROOT / "layers" / "shared" / "requirements.lock")
        _pip(python, target, "--require-hashes", "--no-deps", "--only-binary=:all:", "-r", lock)
        sdk = [f"boto3=={boto3}", f"botocore=={botocore}", f"s3transfer=={s3transfer}"]
        _pip(python, target, "--no-deps", "--only-binary=:all:", *sdk, "python-dateutil==2.9.0.post0", "six==1.17.0")
        (target / ".installed").touch()
    return python, target, botocore


def invoke(runtime: tuple[str, Path, str], function: str, event: dict[str, Any]) -> dict[str, Any]:
    python, target, botocore = runtime
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "PYENV_VERSION": "3.13.0",
        "PYTHONPATH": f"{target}:{ROOT / 'layers' / 'shared' / 'python'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "runtime-check",
        "AWS_SECRET_ACCESS_KEY": "runtime-check",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # as the template sets it; older botocore ignores it
        **{f"AWS_ENDPOINT_URL_{service}": UNREACHABLE for service in ("SQS", "DYNAMODB", "SSM", "S3")},
        "WRITE_KEYS": "dev-write-key",
        "INTERCOM_ACCESS_TOKEN": "runtime-check",
        "INTERCOM_API_BASE": UNREACHABLE,
        "DEAD_LETTER_QUEUE_URL": f"{UNREACHABLE}/000000000000/dlq.fifo",
        "PARKING_QUEUE_URL": f"{UNREACHABLE}/000000000000/parking.fifo",
        "IDEMPOTENCY_TABLE": "runtime-check",
        "BACKFILL_BUCKET": "runtime-check",
        "BACKFILL_QUEUE_URL": f"{UNREACHABLE}/000000000000/backfill",
        "POWERTOOLS_SERVICE_NAME": "intercom-destination",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
    script = ROOT / "tests" / "build" / "runtime_invoke.py"
    command = [python, "-s", str(script), str(ROOT / "functions" / function), "-", json.dumps(event)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"botocore"')]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    outcome: dict[str, Any] = json.loads(lines[-1])
    assert outcome["botocore"] == botocore
    return outcome


def test_ingest_answers_503_with_retry_after_when_aws_is_unreachable(runtime: tuple[str, Path, str]) -> None:
    event = json.loads((ROOT / "events" / "identify.json").read_text())
    outcome = invoke(runtime, "ingest", event)
    assert "raised" not in outcome, outcome.get("traceback")
    answer = outcome["returned"]
    assert (answer["statusCode"], answer["headers"]["Retry-After"]) == (503, "5")


def test_the_redrive_fails_with_its_own_clear_error_when_aws_is_unreachable(runtime: tuple[str, Path, str]) -> None:
    outcome = invoke(runtime, "redrive", {})
    assert (outcome.get("raised"), outcome.get("module")) == (
        "QueueUnavailableError",
        "intercom_destination.durability.queue",
    )
    assert "the dead-letter queue could not be read" in outcome["message"]


def test_the_forget_fails_with_its_own_clear_error_when_aws_is_unreachable(runtime: tuple[str, Path, str]) -> None:
    outcome = invoke(runtime, "forget", {"userId": "u-1"})
    assert (outcome.get("raised"), outcome.get("module")) == (
        "ForgetIncompleteError",
        "intercom_destination.forget.service",
    )
    assert "run it again" in outcome["message"]


def test_the_backfill_fails_with_its_own_clear_error_and_hands_a_part_back(runtime: tuple[str, Path, str]) -> None:
    """An operator's start or status names what could not be reached; a worker's part goes back to the
    queue, to be read again from its checkpoint: its one record failed, so Powertools fails the invocation
    (BatchProcessingError: every record of the batch failed) and SQS shows the message again."""
    outcome = invoke(runtime, "backfill", {"status": "run-1"})
    assert (outcome.get("raised"), outcome.get("module")) == (
        "BackfillUnavailableError",
        "intercom_destination.backfill.fleet",
    )
    assert "run it again" in outcome["message"]
    part = {"bucket": "runtime-check", "key": "a.gz", "start": 0, "end": 10, "whole": True}
    record = sqs_record("m-1", "r", json.dumps({"run": "run-1", "prefix": "", "part": part}))
    outcome = invoke(runtime, "backfill", {"Records": [record]})
    assert (outcome.get("raised"), outcome.get("module")) == (
        "BatchProcessingError",
        "aws_lambda_powertools.utilities.batch.exceptions",
    )
    assert "BackfillUnavailableError: could not read s3://runtime-check/a.gz" in outcome["traceback"]


def test_this_check_runs_the_runtimes_python() -> None:
    version = subprocess.run(  # noqa: S603
        [_python313(), "-c", "import sys; print(sys.version_info[:2])"],
        env={**os.environ, "PYENV_VERSION": "3.13.0"}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == "(3, 13)"
