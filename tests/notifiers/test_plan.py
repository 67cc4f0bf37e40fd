from __future__ import annotations

import gc

import pytest

from notifiers import CycleError, NotifierRegistry


def noop() -> None:
    pass


def test_order_leaves_the_garbage_collector_enabled_even_after_a_cycle(monkeypatch):
    monkeypatch.setattr("notifiers.table.EAGER_CYCLE_BUDGET", 0)
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, after="b")
    registry.add("b", noop, after="a")

    with pytest.raises(CycleError):
        registry.order()

    assert gc.isenabled()


def test_order_does_not_enable_a_collector_the_caller_disabled():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop)
    gc.disable()
    try:
        order = registry.order()
        still_disabled = not gc.isenabled()
    finally:
        gc.enable()

    assert order == ["a"]
    assert still_disabled


def test_plan_edges_are_listed_once_each_even_if_declared_by_both_ends():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, before="b")
    registry.add("b", noop, after="a")

    text = registry.to_dot()

    assert text.count('"a" -> "b"') == 1
    assert 'label="b"' in text  # the hard after= of the later notifier wins
