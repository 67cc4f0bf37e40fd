"""Memory benchmark: build 1,000 virt machines in one process; does memory return?

Machines cycle through TCG, KVM GICv3+ITS, KVM GICv2 and a failing 2016-era
bring-up. After a warm-up, tracemalloc measures the traced heap at
checkpoints; gc counts the live Machines, registries and KVM objects. Prints
the growth from the starting level and exits 1 if any machine (or anything it
owned) survived, or if the heap still grew over the second half of the run
by more than ``--tolerance`` bytes (a leak grows with every machine; a
one-off such as CPython resizing its interned-string table does not, and the
largest growth's allocation site is printed so it can be judged).

    python bench/machines_memory.py [--machines 1000] [--tolerance 65536]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.machine_churn import build, churn, live_counts


def _heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def main(argv: list[str] | None = None) -> int:
    """Run the churn; print the heap at each checkpoint; return 1 on a leak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--tolerance", type=int, default=64 * 1024)
    args = parser.parse_args(argv)
    for i in range(8):  # warm-up: imports, pydantic and lru caches, interned strings
        build(i)
    counts_before = live_counts()
    tracemalloc.start()
    baseline = _heap()
    one = build(0)
    one_machine = _heap() - baseline
    del one
    print(f"one live virt machine holds {one_machine / 1024:.0f} KiB")
    start = time.perf_counter()
    survivors = 0
    step = max(1, args.machines // 10)
    done = 0
    growths: list[int] = []
    first = tracemalloc.take_snapshot()
    while done < args.machines:
        n = min(step, args.machines - done)
        refs = churn(n, start=done)
        done += n
        gc.collect()
        survivors += sum(r() is not None for r in refs)
        del refs
        growths.append(_heap() - baseline)
        print(f"after {done:5d} machines: heap {growths[-1]:+9d} bytes vs start")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    final = _heap() - baseline
    top = tracemalloc.take_snapshot().compare_to(first, "lineno")[:1]
    tracemalloc.stop()
    late_growth = final - growths[len(growths) // 2 - 1] if len(growths) > 1 else final
    for stat in top:
        print(f"largest growth since the first machine: {stat}")
    counts_after = live_counts()
    leaked = counts_after - counts_before
    print(
        f"{args.machines} machines in {elapsed:.1f} s "
        f"({elapsed / args.machines * 1000:.1f} ms each, tracemalloc on); "
        f"peak traced {peak / 1024:.0f} KiB; final growth {final:+d} bytes, "
        f"{late_growth:+d} over the second half; "
        f"survivors {survivors}; live objects before {dict(counts_before)} "
        f"after {dict(counts_after)}"
    )
    ok = survivors == 0 and not leaked and late_growth <= args.tolerance
    print("no leak: nothing survived and the heap stopped growing" if ok else "LEAK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
