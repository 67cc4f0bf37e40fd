from __future__ import annotations

import re

import pytest

from virtmodel.notifiers import CycleError, InvalidNotifierError, NotifierRegistry


def noop() -> None:
    pass


@pytest.fixture
def registry() -> NotifierRegistry[[]]:
    return NotifierRegistry[[]]("event")


def test_a_bare_string_is_one_name_not_its_letters(registry):
    record = registry.add("its", noop, after="gic")

    assert record.after == ("gic",)


def test_sets_are_sorted_so_hashing_never_shows(registry):
    record = registry.add("its", noop, after_optional={"c", "a", "b"})

    assert record.after_optional == ("a", "b", "c")


def test_lists_keep_their_declared_order(registry):
    record = registry.add("its", noop, before=["z", "a"])

    assert record.before == ("z", "a")


def test_a_name_listed_twice_is_rejected(registry):
    with pytest.raises(InvalidNotifierError) as info:
        registry.add("its", noop, after=["gic", "gic"])

    assert str(info.value) == "notifier 'its' lists 'gic' twice in after="
    assert info.value.name == "its"


def test_hard_and_optional_forms_of_one_target_are_rejected(registry):
    with pytest.raises(InvalidNotifierError, match="both after= and after_optional="):
        registry.add("its", noop, after="gic", after_optional="gic")


def test_optional_after_and_hard_before_of_one_target_is_a_cycle(registry):
    with pytest.raises(CycleError) as info:
        registry.add("its", noop, after_optional="gic", before="gic")

    assert info.value.cycle == ["its", "gic", "its"]
    assert [e.keyword for e in info.value.edges] == ["before", "after_optional"]


def test_before_then_after_of_one_target_lists_the_cycle_from_it(registry):
    with pytest.raises(CycleError) as info:
        registry.add("its", noop, before="gic", after_optional="gic")

    assert info.value.cycle == ["its", "gic", "its"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": 3}, "notifier 'its': after= must be a str or an iterable of str"),
        ({"before": [""]}, "notifier 'its': each before= name must not be empty"),
        ({"reads": [1]}, "notifier 'its': each reads= name must be a str, got int 1"),
        ({"writes": ["ok", None]}, "each writes= name must be a str, got NoneType"),
        # The common after=/before= lists are checked in bulk at C speed; what
        # those checks refuse gets the general path's message.
        (
            {"after": ["gic", 5]},
            "notifier 'its': each after= name must be a str, got int 5",
        ),
        ({"before": ("a", b"b")}, "notifier 'its': each before= name must be a str"),
        ({"after": "a", "before": ["b", ""]}, "each before= name must not be empty"),
        ({"after": ["a", "its"]}, "notifier 'its' is ordered against itself (after=)"),
        ({"before": "its"}, "notifier 'its' is ordered against itself (before=)"),
        ({"before": ["x", "y", "x"]}, "notifier 'its' lists 'x' twice in before="),
    ],
)
def test_bad_constraint_values_are_rejected_with_the_keyword(registry, kwargs, message):
    with pytest.raises(InvalidNotifierError, match=re.escape(message)) as info:
        registry.add("its", noop, **kwargs)

    assert info.value.name == "its"
    assert "its" not in registry


def test_describe_constraints_lists_each_keyword(registry):
    record = registry.add("its", noop, after=["a", "b"], before_optional="c")

    assert record.describe_constraints() == "after='a', 'b'; before_optional='c'"
    assert record.constraints.ordering() == {
        "after": ("a", "b"),
        "before_optional": ("c",),
    }
