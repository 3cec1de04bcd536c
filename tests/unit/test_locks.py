"""pyproject.toml, the hashed locks and the layer's requirements name the same versions (installs come
from the locks; a dependency changed in one place only fails here, not on a user's machine)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def pins(text: str) -> dict[str, str]:
    return {_normal(name): version for name, version in _PIN.findall(text)}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> tuple[dict[str, str], dict[str, str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return pins("\n".join(data["dependencies"])), pins("\n".join(data["optional-dependencies"]["dev"]))


def test_every_dependency_is_pinned_exactly() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*data["dependencies"], *data["optional-dependencies"]["dev"]]
    runtime, dev = project()
    assert len(runtime) + len(dev) == len(declared), [d for d in declared if "==" not in d]


def test_the_dev_lock_has_every_pin_of_pyproject_with_hashes() -> None:
    lock = (ROOT / "requirements" / "dev.lock").read_text()
    locked = pins(lock)
    runtime, dev = project()
    assert {name: locked.get(name) for name in {**runtime, **dev}} == {**runtime, **dev}
    assert lock.count("--hash=sha256:") >= len(locked)
    assert "index-url" not in lock.replace("--no-emit-index-url", "")  # nothing of this machine's pip setup


def test_the_layer_installs_the_runtime_pins_from_its_lock() -> None:
    runtime, _ = project()
    requirements = pins((ROOT / "layers" / "shared" / "requirements.txt").read_text())
    lock = pins((ROOT / "layers" / "shared" / "requirements.lock").read_text())
    layer = {name: version for name, version in runtime.items() if name != "boto3"}  # the Lambda runtime has boto3
    assert requirements == layer
    assert {name: lock.get(name) for name in layer} == layer
    assert not {"boto3", "botocore", "python-dateutil"} & set(lock)  # left to the runtime


def test_the_sam_cli_is_pinned_with_hashes_in_its_own_lock() -> None:
    text = (ROOT / "requirements" / "sam.lock").read_text()
    wanted = pins((ROOT / "requirements" / "sam.in").read_text())
    assert {name: pins(text).get(name) for name in wanted} == wanted
    assert text.count("--hash=sha256:") >= len(pins(text))
