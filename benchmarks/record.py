"""`make bench`: runs every benchmark, prints its tables, and writes each one's output into
docs/benchmarks.md between its markers, with the date and the machine, so the figures the docs quote
are what the scripts printed (nothing copied by hand).

    python -m benchmarks.record                      # all of them (what `make bench` runs)
    python -m benchmarks.record costs coldstart313   # only these; the others' figures stay as they were
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from local.regions import NoRegionError, replace_region

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
#: Each benchmark module, in the order `make bench` runs them (the defaults of each are what it records).
BENCHMARKS = ("efficiency", "drain", "run", "budget", "costs", "instances", "coldstart313", "backfill")
#: Recorded by `make soak`, not by `make bench` (it takes minutes).
SOAK = "soak"


def begin(name: str) -> str:
    return f"<!-- make bench: benchmarks.{name} -->"


END = "<!-- end of make bench output -->"


def tables(output: str) -> str:
    """What a script printed, without the JSON lines the functions log (and powertools' metric flushes)."""
    return "\n".join(line for line in output.splitlines() if not line.startswith("{")).strip()


def record(page: str, name: str, output: str, when: datetime) -> str:
    """The page with `name`'s region replaced by this output; a page without its markers is refused."""
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    stamp = f"*Printed by `python -m benchmarks.{name}` on {when:%Y-%m-%d} ({machine}):*"
    try:
        return replace_region(page, begin(name), END, f"{stamp}\n\n{tables(output)}")
    except NoRegionError:
        raise SystemExit(f"{PAGE.name}: no region for benchmarks.{name} ({begin(name)} … {END})") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name", help=f"of {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.names) - {*BENCHMARKS, SOAK}
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))} (there are {', '.join([*BENCHMARKS, SOAK])})")
    for name in args.names or BENCHMARKS:
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT, capture_output=True, text=True)  # noqa: S603
        print(tables(done.stdout), flush=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"benchmarks.{name} failed (exit {done.returncode}); {PAGE.name} left as it was for it")
        PAGE.write_text(record(PAGE.read_text(), name, done.stdout, datetime.now(UTC)))
        print(f"\n(written into {PAGE.relative_to(ROOT)})\n", flush=True)


if __name__ == "__main__":
    main()
