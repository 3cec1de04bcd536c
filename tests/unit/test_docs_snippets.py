"""Every JSON block in the README and docs/ works as pasted (#21 §4): each is a whole actions file (the
docs' JSON blocks are all actions files; a fragment is not one) and passes the same validation `make
actions-check` runs (the layer's loader). Pasted, the earlier recipes failed ("must be an object", "not
JSON: Extra data"), and the first dropped the Merge Lead action."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from intercom_destination.mapping.actions import load_actions

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(block, id=f"{page.name}:{number}")
    for page in PAGES
    for number, block in enumerate(re.findall(r"```json\n(.*?)```", page.read_text(), re.DOTALL), start=1)
]


def test_the_docs_hold_json_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS)
def test_a_json_block_works_as_pasted(block: str) -> None:
    actions = load_actions(block, "the README")
    assert "Merge Lead" in [action.name for action in actions.actions]  # no recipe silently drops a default


def test_the_action_fields_table_is_the_codes() -> None:
    """docs/actions.md's fields table is generated from each field's definition (`python -m local.actions
    fields --write`): a field added, renamed or redescribed in code without it fails here."""
    from intercom_destination.mapping.actions import KINDS

    from local.actions import DOC, fields_doc

    assert all(field.description for kind in KINDS.values() for field in kind.fields.values())
    page = DOC.read_text()
    assert fields_doc(page) == page, "run: python -m local.actions fields --write"
