"""What `sam deploy` would upload: the template passes SAM's own validation and linter, `sam build` succeeds
without Docker, and the layer it builds is small, for arm64 and 3.13, carries Python 3.13 bytecode (the
build uses `python3.13` when the machine has it, as this project's machines do), and leaves boto3/botocore
to the Lambda runtime. Uses the SAM CLI from `.venv-sam` (`make sam`, run by `make test`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from intercom_destination.mapping.actions import DEFAULT_FILE

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"
LAYER_LIMIT_MB = 25  # unzipped, bytecode included; Lambda's limit for a function and its layers together is 250 MB
#: The first two bytes of a Python 3.13 .pyc (importlib.util.MAGIC_NUMBER under 3.13), and the flags word of
#: an unchecked-hash one (PEP 552: bit 0 hash-based, bit 1 check the source: off).
PY313_MAGIC = 3571
UNCHECKED_HASH = 0b01


def sam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail("the SAM CLI is not installed: run `make sam` (make test does)")
    # The layer's Makefile calls pip: ours, so the build needs no global pip.
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run([str(SAM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)  # noqa: S603


def size_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def test_the_template_passes_sam_validate_with_its_linter() -> None:
    done = sam("validate", "--lint", "--template-file", "template.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    done = sam("build", "--build-dir", str(build_dir), "--cache-dir", str(build_dir.parent / "cache"))
    assert done.returncode == 0, done.stdout + done.stderr
    return build_dir


def test_sam_build_packs_each_function_with_its_handler_only(built: Path) -> None:
    for function in ("IngestFunction", "RedriveFunction", "ForgetFunction"):
        files = {path.name for path in (built / function).rglob("*.py")}
        assert "app.py" in files, function
        assert "intercom_destination" not in {path.name for path in (built / function).iterdir()}, function
    assert (built / "IngestFunction" / "web" / "intercom.js").is_file()


def test_every_module_of_the_layer_has_unchecked_bytecode_for_python_313(built: Path) -> None:
    """/opt is read-only in Lambda: without shipped bytecode every cold start compiles every module."""
    python = built / "SharedLayer" / "python"
    sources = list(python.rglob("*.py"))
    assert len(sources) > 100
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        header = compiled.read_bytes()[:8]
        assert int.from_bytes(header[:2], "little") == PY313_MAGIC, compiled
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, compiled


def test_python_313_runs_the_shipped_bytecode_without_reading_the_source(built: Path, tmp_path: Path) -> None:
    """Unchecked-hash bytecode is used as it is: a module whose source now raises still imports from it."""
    shipped = built / "SharedLayer" / "python" / "intercom_destination" / "intake"
    (tmp_path / "__pycache__").mkdir()
    pyc = shipped / "__pycache__" / "timestamps.cpython-313.pyc"
    (tmp_path / "__pycache__" / pyc.name).write_bytes(pyc.read_bytes())
    (tmp_path / "timestamps.py").write_text("raise RuntimeError('the source was compiled, not the bytecode used')\n")
    env = {**os.environ, "PYENV_VERSION": "3.13.0", "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        ["python3.13", "-c", "import timestamps; print(timestamps.FUTURE_TOLERANCE)"],  # noqa: S607
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "0:05:00"), done.stderr


def test_the_built_layer_is_small_for_arm64_python_313_and_leaves_the_sdk_to_the_runtime(built: Path) -> None:
    python = built / "SharedLayer" / "python"
    packages = {path.name for path in python.iterdir()}
    assert {"intercom_destination", "aws_lambda_powertools", "pydantic", "pydantic_core", "urllib3"} <= packages
    assert not packages & {"boto3", "botocore", "s3transfer", "dateutil"}
    native = [path.name for path in (python / "pydantic_core").glob("*.so")]
    assert native
    assert all("cpython-313-aarch64-linux-gnu" in name for name in native), native
    assert size_mb(built / "SharedLayer") <= LAYER_LIMIT_MB, f"{size_mb(built / 'SharedLayer'):.1f} MB"
    assert not (python / "aws_xray_sdk").exists()  # Lambda's own tracing records invocations without it
    # The default actions file ships in the layer, byte for byte.
    shipped = python / "intercom_destination" / "mapping" / "actions.default.json"
    assert shipped.read_bytes() == DEFAULT_FILE.read_bytes()
