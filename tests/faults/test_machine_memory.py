"""Machines are collected when dropped: no notifier, listener or KVM object
outlives its machine, failed bring-ups included."""

from __future__ import annotations

import gc

from tests.faults.machine_churn import VARIANTS, build, churn, live_counts


def test_fifty_machines_are_all_collected_with_what_they_own() -> None:
    build(0)  # warm module-level caches before counting
    before = live_counts()

    refs = churn(50)
    gc.collect()

    alive = sorted({type(r()).__name__ for r in refs if r() is not None})
    assert alive == []
    assert live_counts() == before


def test_churn_covers_kvm_machines_and_a_failed_bring_up() -> None:
    machines = [build(i) for i in range(len(VARIANTS))]

    failed = [m for m in machines if m.failure is not None and m.failure.kvm_call]

    assert [m.accel.name for m in machines] == ["tcg", "kvm", "kvm", "kvm"]
    assert len(failed) == 1
