"""Ingest cold start under Python 3.13, the runtime's, on this tree and on a baseline commit in the same
run, with where its time goes (part of `make bench`).

Each run is a new `python3.13` process that imports the ingest function and handles its first request
against instant stand-ins (benchmarks/coldsteps.py), as Lambda's init and first invoke do, step by step:
each step is what importing (or doing) it adds to what came before, so a shared dependency is charged to
the first step that needs it. Both trees run with the layer's unchecked-hash bytecode (as `sam build`
ships it, layers/shared/Makefile), the layer's locked dependencies, and boto3/botocore beside them with
bytecode, as the runtime provides them; the baseline's layer and function come from `git worktree`. The
bare interpreter start is shown for scale. The locked dependencies and the SDK are installed once into
`.cache/coldstart-313/`.

Not measured: Lambda's own init (the runtime's bootstrap, the layer's unzip, a real network)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.costs import BASELINE
from benchmarks.run import markdown

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "coldstart-313"
ENV_313 = {**os.environ, "PYENV_VERSION": "3.13.0", "PIP_ROOT_USER_ACTION": "ignore"}
#: Import + first request, under 3.13 with bytecode (issue #23's target).
TARGET_MS = 200


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
    """The runtime's SDK and the layer's locked dependencies, each with bytecode (installed once per lock)."""
    trees = {name: CACHE / name for name in ("runtime", "dependencies")}
    lock = ROOT / "layers" / "shared" / "requirements.lock"
    stamp = hashlib.sha256(lock.read_bytes() + (ROOT / "requirements" / "dev.lock").read_bytes()).hexdigest()
    if (CACHE / ".installed").exists() and (CACHE / ".installed").read_text() == stamp:
        return trees
    shutil.rmtree(CACHE, ignore_errors=True)
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"]
    sdk = [f"{name}=={_locked(name)}" for name in ("boto3", "botocore", "s3transfer", "python-dateutil", "six")]
    _python(*pip, "--target", str(trees["runtime"]), *sdk)
    _python(*pip, "--require-hashes", "--no-compile", "--target", str(trees["dependencies"]), "-r", str(lock))
    for tree in trees.values():
        _python("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(tree))
    (CACHE / ".installed").write_text(stamp)
    return trees


def _layer(root: Path, into: Path) -> Path:
    """A tree's layer code with the bytecode `sam build` ships."""
    shutil.copytree(root / "layers" / "shared" / "python" / "intercom_destination", into / "intercom_destination")
    _python("-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(into))
    return into


def _cold_start(root: Path, layer: Path, trees: dict[str, Path]) -> dict[str, float]:
    """One cold start of `root`'s function with its layer: the steps' seconds."""
    from benchmarks.instant import lambda_env

    path = [layer, trees["dependencies"], trees["runtime"], root, root / "layers" / "shared" / "python"]
    env = {**ENV_313, **lambda_env(), "PYTHONPATH": ":".join(map(str, path)), "PYTHONDONTWRITEBYTECODE": "1"}
    done = _python(str(ROOT / "benchmarks" / "coldsteps.py"), env=env)  # this harness, each tree's code
    steps: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])["steps"]
    return steps


def _git(*args: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), *args], check=True)  # noqa: S603, S607


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="cold starts per tree (default 7)")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    args = parser.parse_args()
    trees = prepare()
    bare: list[float] = []
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this tree": []}
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / "baseline"
        _git("worktree", "add", "--detach", "-q", str(baseline), args.baseline)
        try:
            layers = {"baseline": _layer(baseline, Path(scratch) / "baseline-layer")}
            layers["this tree"] = _layer(ROOT, Path(scratch) / "layer")
            roots = {"baseline": baseline, "this tree": ROOT}
            for _ in range(args.runs):  # interleaved: the machine's load falls on both alike
                started = time.perf_counter()
                _python("-c", "pass")
                bare.append(time.perf_counter() - started)
                for name in runs:
                    runs[name].append(_cold_start(roots[name], layers[name], trees))
        finally:
            _git("worktree", "remove", "--force", str(baseline))

    def ms(values: list[float]) -> str:
        return f"{min(values) * 1000:.0f} / {statistics.median(values) * 1000:.0f}"

    totals = {name: [sum(run.values()) for run in values] for name, values in runs.items()}
    print(f"\nIngest cold start under Python 3.13 with bytecode, ms, min / median of {args.runs} runs (interleaved)\n")
    rows = [(step, *(ms([run[step] for run in runs[name]]) for name in runs)) for step in runs["this tree"][0]]
    rows.append((f"**import + first request** (target ≤ {TARGET_MS})", *(ms(totals[name]) for name in runs)))
    rows.append(("bare interpreter start, for scale (not included)", ms(bare), ms(bare)))
    print(markdown(("step", f"baseline {args.baseline}", "this tree"), rows))
    ratio = statistics.median(totals["this tree"]) / statistics.median(totals["baseline"])
    print(f"\nthis tree / baseline (medians of import + first request): {ratio:.2f}")


if __name__ == "__main__":
    main()
