"""The layer's folders are the pipeline's stages, and each imports only what lies below it (#22): the
order docs/architecture.md draws, checked on the code's own imports. The doc names every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "shared" / "python" / "intercom_destination"
#: Each folder or top-level module, by floor: a module imports from its own room or lower floors only.
FLOORS = {
    "config": 0, "person": 0, "privacy": 0, "limits": 0, "fanout": 0,
    "intake": 1,
    "mapping": 2,
    "intercom": 3,
    "delivery": 4, "telemetry": 4,
    "durability": 5,
    "ingest": 6, "replay": 6, "forget": 6,
    "actions_source": 7, "backfill": 7,
    "wiring": 8,
}  # fmt: skip
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def room(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_rooms(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("intercom_destination."):
            rooms.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "intercom_destination":
            rooms |= {alias.name for alias in node.names}
    return rooms


def test_every_room_has_a_floor() -> None:
    assert {room(path) for path in MODULES} == set(FLOORS)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_from_its_room_or_below(path: Path) -> None:
    own = room(path)
    upward = sorted(other for other in imported_rooms(path) if other != own and FLOORS[other] >= FLOORS[own])
    assert upward == []


def test_the_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [str(path.relative_to(PACKAGE)) for path in MODULES if path.name not in doc]
    assert missing == []


def import_table() -> str:
    """Each room and the rooms it imports: the import graph, as docs/architecture.md shows it."""
    imports: dict[str, set[str]] = {}
    for path in MODULES:
        imports.setdefault(room(path), set()).update(imported_rooms(path) - {room(path)})
    rows = ["| room | imports |", "|---|---|"]
    for name in sorted(imports, key=lambda name: (-FLOORS[name], name)):
        rows.append(
            f"| `{name}` | {', '.join(f'`{other}`' for other in sorted(imports[name])) or '(nothing of ours)'} |"
        )
    return "\n".join(rows)


def test_the_architecture_doc_shows_the_import_graph_as_it_is() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert import_table() in doc, "replace the import table in docs/architecture.md with:\n" + import_table()
