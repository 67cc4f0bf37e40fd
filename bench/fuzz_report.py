"""Count what the fuzz and fault suites tried: inputs, clean rejections, crashes.

Runs ``tests/fuzz`` and ``tests/faults`` under pytest in this process with
every hypothesis ``max_examples`` multiplied by ``--scale`` (still
derandomized, so the same scale gives the same inputs), then prints the
per-target table the tests filled in. A crash is any input that made the
command line raise, print a traceback or a multi-line error, or exit with a
status other than 0, 1 or 2 (see ``tests/fuzz/harness.py``).

    python bench/fuzz_report.py [--scale 10] [--fast]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    """Run the suites; print pytest's summary and the counts; return pytest's status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="skip @slow tests")
    args = parser.parse_args(argv)
    os.environ["VIRTMODEL_FUZZ_SCALE"] = str(args.scale)
    os.chdir(ROOT)
    import pytest

    from tests.fuzz.harness import TALLY

    pytest_args = ["tests/fuzz", "tests/faults", "-q", "-p", "no:cacheprovider"]
    if args.fast:
        pytest_args += ["-m", "not slow"]
    start = time.perf_counter()
    status = pytest.main(pytest_args)
    elapsed = time.perf_counter() - start
    totals = TALLY.totals()
    print(f"\nfuzz report (scale {args.scale}, {elapsed:.0f} s):\n")
    print(TALLY.table())
    clean = totals["rejected"] + totals["failed"]
    print(
        f"\n{sum(totals.values())} inputs tried, {totals['ok']} accepted, "
        f"{clean} bad inputs rejected cleanly, {totals['crash']} crashes"
    )
    for target, what, problem in TALLY.crashes[:10]:
        print(f"crash in {target}: {what}: {problem}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
