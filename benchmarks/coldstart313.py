"""Ingest cold start under Python 3.13, the runtime's, with and without the layer's bytecode (part of
`make bench`).

Each run is a new `python3.13` process that imports the ingest function and handles its first request
against instant stand-ins (benchmarks/coldstart.py), as Lambda's init and first invoke do. Three trees:
- the layer without bytecode, read-only (as `/opt` is in Lambda: Python cannot cache what it compiles),
  which is what the layer shipped before;
- the layer with the unchecked-hash bytecode `sam build` now ships (layers/shared/Makefile);
- boto3/botocore beside them with bytecode, as the runtime provides them.
The bare interpreter start is the baseline. Each tree is installed once into `.cache/coldstart-313/`
(the layer's lock and the newest boto3, for this machine's platform). The harness's own modules and the
function's `app.py` are compiled on every run in both trees alike.

Not measured: Lambda's own init (the runtime's bootstrap, the layer's unzip, a real network)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import statistics
import subprocess
import time
from pathlib import Path

from benchmarks.run import markdown

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "coldstart-313"
ENV_313 = {**os.environ, "PYENV_VERSION": "3.13.0", "PIP_ROOT_USER_ACTION": "ignore"}


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        ["python3.13", *args],  # noqa: S607
        env=env or ENV_313, check=True, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def _locked(name: str) -> str:
    found = re.search(rf"^{name}==(\S+)", (ROOT / "requirements" / "dev.lock").read_text(), re.MULTILINE)
    assert found, name
    return found.group(1)


def prepare() -> dict[str, Path]:
    """The runtime's SDK (with bytecode), and the layer without and with its shipped bytecode."""
    trees = {name: CACHE / name for name in ("runtime", "plain", "compiled")}
    stamp = _layer_stamp()
    if (CACHE / ".installed").exists() and (CACHE / ".installed").read_text() == stamp:
        return trees
    for path in CACHE.rglob("*"):  # the read-only copy of an earlier run, writable again to be removed
        if path.is_dir():
            path.chmod(stat.S_IRWXU)
    shutil.rmtree(CACHE, ignore_errors=True)
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"]
    sdk = [f"{name}=={_locked(name)}" for name in ("boto3", "botocore", "s3transfer", "python-dateutil", "six")]
    _python(*pip, "--target", str(trees["runtime"]), *sdk)
    _python("-m", "compileall", "-q", "-j", "0", str(trees["runtime"]))
    lock = str(ROOT / "layers" / "shared" / "requirements.lock")
    _python(*pip, "--require-hashes", "--no-compile", "--target", str(trees["plain"]), "-r", lock)
    shutil.copytree(
        ROOT / "layers" / "shared" / "python" / "intercom_destination", trees["plain"] / "intercom_destination"
    )
    for cached in list(trees["plain"].rglob("__pycache__")):
        shutil.rmtree(cached)
    shutil.copytree(trees["plain"], trees["compiled"])
    _python("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(trees["compiled"]))
    for path in trees["plain"].rglob("*"):  # read-only, as /opt: nothing compiled at a cold start is kept
        if path.is_dir():
            path.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    (CACHE / ".installed").write_text(stamp)
    return trees


def _layer_stamp() -> str:
    """What the cached trees were built from: the layer's code and lock (a stale copy would measure old code)."""
    digest = hashlib.sha256()
    layer = ROOT / "layers" / "shared"
    for path in sorted([layer / "requirements.lock", *(layer / "python").rglob("*.py")]):
        digest.update(str(path.relative_to(layer)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _cold_start(layer: Path, runtime: Path) -> dict[str, float]:
    from benchmarks.instant import lambda_env

    # The repository's own layer folder last: `local` adds it only when it is missing, and it must not
    # shadow the tree measured.
    path = [layer, runtime, ROOT, ROOT / "layers" / "shared" / "python"]
    env = {**ENV_313, **lambda_env(), "PYTHONPATH": ":".join(map(str, path)), "PYTHONDONTWRITEBYTECODE": "1"}
    done = _python("-m", "benchmarks.coldstart", env=env)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="cold starts per tree (default 7)")
    args = parser.parse_args()
    trees = prepare()
    bare: list[float] = []
    plain: list[dict[str, float]] = []
    compiled: list[dict[str, float]] = []
    for _ in range(args.runs):  # interleaved: the machine's load falls on both alike
        started = time.perf_counter()
        _python("-c", "pass")
        bare.append(time.perf_counter() - started)
        plain.append(_cold_start(trees["plain"], trees["runtime"]))
        compiled.append(_cold_start(trees["compiled"], trees["runtime"]))

    def row(name: str, values: list[float]) -> tuple[str, ...]:
        return (name, f"{min(values) * 1000:.0f}", f"{statistics.median(values) * 1000:.0f}")

    def total(runs: list[dict[str, float]]) -> list[float]:
        return [run["import"] + run["first"] for run in runs]

    print(f"\nIngest cold start under Python 3.13, ms ({args.runs} runs each, interleaved)\n")
    print(
        markdown(
            ("step", "min", "median"),
            [
                row("bare interpreter start (baseline)", bare),
                row("import, layer without bytecode (before)", [run["import"] for run in plain]),
                row("import, layer with bytecode (now)", [run["import"] for run in compiled]),
                row("import + first request, without bytecode", total(plain)),
                row("import + first request, with bytecode", total(compiled)),
            ],
        )
    )
    ratio = statistics.median(total(compiled)) / statistics.median(total(plain))
    print(f"\nwith / without bytecode (medians of import + first request): {ratio:.2f}")


if __name__ == "__main__":
    main()
