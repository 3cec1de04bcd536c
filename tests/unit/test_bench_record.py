"""The benchmark figures in docs/benchmarks.md are what the scripts printed (#21 §4): `make bench`
writes each script's output between its markers, and every script has its recorded region."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from benchmarks import record

PAGE = record.PAGE.read_text()


@pytest.mark.parametrize("name", [*record.BENCHMARKS, record.SOAK])
def test_every_benchmark_has_a_recorded_region(name: str) -> None:
    start = PAGE.index(record.begin(name))
    region = PAGE[start : PAGE.index(record.END, start)]
    assert f"*Printed by `python -m benchmarks.{name}` on " in region
    assert re.search(r"\|\s*---", region)  # a table, as the script prints it


def test_recording_replaces_only_its_own_region() -> None:
    page = f"intro\n{record.begin('costs')}\nold costs\n{record.END}\nmiddle\n{record.begin('drain')}\nold drain\n{record.END}\n"
    when = datetime(2026, 12, 7, tzinfo=UTC)
    written = record.record(page, "costs", "| a |\n|---|\n| 1 |\n", when)
    assert "old costs" not in written
    assert "old drain" in written
    assert "*Printed by `python -m benchmarks.costs` on 2026-12-07 (" in written
    assert written.startswith("intro\n")
    assert written.endswith(f"middle\n{record.begin('drain')}\nold drain\n{record.END}\n")
    assert record.record(written, "costs", "| b |\n|---|\n| 2 |", when).count("| 2 |") == 1


def test_the_functions_log_lines_are_left_out() -> None:
    printed = 'Title\n\n{"level":"INFO","message":"x"}\n| a |\n|---|\n{"_aws": {}}\n| 1 |\n'
    assert record.tables(printed) == "Title\n\n| a |\n|---|\n| 1 |"


def test_a_page_without_the_region_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"no region for benchmarks\.costs"):
        record.record("no markers here", "costs", "output", datetime.now(UTC))


def test_the_readmes_headline_figures_are_the_recorded_ones() -> None:
    """The README quotes a few figures of the last `make bench`: each must be one it recorded (the cost row
    is computed in docs/deploy.md, not measured)."""
    readme = (record.ROOT / "README.md").read_text()
    rows = readme[readme.index("| | figure | beside |") :].split("\n\n")[0].splitlines()[2:]
    figures = [
        figure for row in rows if "$" not in row for figure in re.findall(r"(?<![\w.])(\d+\.\d+|\d{3,})(?![\w.])", row)
    ]
    assert len(figures) >= 5
    for figure in figures:
        assert re.search(rf"(?<![\w.]){re.escape(figure)}(?![\w.])", PAGE), figure
