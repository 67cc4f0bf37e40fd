"""Load benchmark: the notifier registry under threads, at full scale.

8 threads each add 10,000 notifiers (every one ordered after its thread's last
kept name) and remove nine in ten of them again, while another thread keeps
computing the order and checking each snapshot. Prints the timing, the counts
and any problem; exits 1 if anything was lost, raised or misordered.

    python bench/load.py [--threads 8] [--per-thread 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.registry_load import final_problems, run_load


def main(argv: list[str] | None = None) -> int:
    """Run the load *runs* times; print medians; return 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=10_000)
    parser.add_argument("--keep-every", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    seconds, orders, failed, ops = [], [], False, 0
    for run in range(args.runs):
        result = run_load(args.threads, args.per_thread, args.keep_every)
        problems = final_problems(result)
        seconds.append(result.seconds)
        orders.append(result.orders)
        print(
            f"run {run + 1}: {result.seconds:.2f} s, {result.adds} adds, "
            f"{result.removes} removes, {result.orders} concurrent orders, "
            f"{len(result.final_order)} left, "
            f"{'OK' if not problems else 'PROBLEMS: ' + '; '.join(problems)}"
        )
        failed = failed or bool(problems)
        ops = result.adds + result.removes
    median = statistics.median(seconds)
    baseline = run_load(
        args.threads, args.per_thread, args.keep_every, with_orderer=False
    )
    failed = failed or bool(final_problems(baseline))
    print(
        f"baseline without the ordering thread: {baseline.seconds:.2f} s "
        f"({ops / baseline.seconds:,.0f} ops/s)"
    )
    print(
        f"median {median:.2f} s for {ops} adds+removes over {args.threads} threads "
        f"({ops / median:,.0f} ops/s), median {statistics.median(orders):.0f} "
        f"orders computed meanwhile; {'FAILED' if failed else 'nothing lost'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
