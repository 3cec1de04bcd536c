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
    """The README quotes a few figures of the last `make bench`: each must be in what it recorded."""
    readme = (record.ROOT / "README.md").read_text()
    headlines = readme[readme.index("| | figure | beside |") :].split("\n\n")[0]
    for figure in ("10.9", "292", "296", "558", "569"):
        assert figure in headlines
        assert f" {figure} " in PAGE or f"{figure}\n" in PAGE or f" {figure}" in PAGE
