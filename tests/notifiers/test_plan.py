from __future__ import annotations

import pytest

from virtmodel.notifiers import NotifierRegistry, UnknownNotifierError


def noop() -> None:
    pass


def test_edges_group_by_keyword_in_registration_order():
    registry = NotifierRegistry[[]]("event")
    registry.add("c", noop, before_optional="a", after_optional="gone")
    registry.add("a", noop, before="b")
    registry.add("b", noop, after="c")

    assert list(registry.graph().edges) == [("c", "b"), ("c", "a"), ("a", "b")]
    assert [str(d) for d in registry.dropped_edges()] == [
        "'c' after_optional='gone' dropped: 'gone' is not registered "
        f"(declared at {registry.notifiers()[0].location})"
    ]


def test_unknown_before_is_found_after_all_afters_check_out():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, before="nope")
    registry.add("b", noop, after="a")

    with pytest.raises(UnknownNotifierError) as info:
        registry.order()

    assert (info.value.referrer, info.value.keyword) == ("a", "before")


def test_plan_edges_are_listed_once_each_even_if_declared_by_both_ends():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, before="b")
    registry.add("b", noop, after="a")

    text = registry.to_dot()

    assert text.count('"a" -> "b"') == 1
    assert 'label="b"' in text  # the hard after= of the later notifier wins
