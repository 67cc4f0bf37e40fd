"""The registry under threads: adds and removes race an ordering thread."""

from __future__ import annotations

from tests.faults.registry_load import check_order, final_problems, run_load


def test_threads_adding_and_removing_lose_nothing_and_order_stays_valid() -> None:
    result = run_load(threads=8, per_thread=400, keep_every=10)

    assert final_problems(result) == []
    assert result.adds == 8 * 401
    assert result.removes == 8 * 360
    assert len(result.final_order) == 8 * 41
    assert result.orders > 0


def test_check_order_finds_a_name_before_its_predecessor() -> None:
    good = ["t0-anchor", "t1-anchor", "t0-0", "t0-3", "t0-10", "t0-12"]

    assert check_order(good, 10) is None
    assert (
        check_order(["t0-3", "t0-anchor", "t0-0"], 10) == "'t0-3' is not after 't0-0'"
    )
    assert check_order(["t0-anchor", "t0-0", "t0-0"], 10) == "'t0-0' appears twice"
    assert check_order(["t0-anchor", "t0-12"], 10) == "'t0-12' is not after 't0-10'"
