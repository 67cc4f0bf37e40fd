"""The Constraints value: one frozen value for the six keywords of add()."""

from __future__ import annotations

import dataclasses

import pytest

from virtmodel.notifiers import (
    Constraints,
    CycleError,
    InvalidNotifierError,
    NotifierRegistry,
)
from virtmodel.notifiers.constraints import KEYWORDS, NONE


def noop() -> None:
    pass


def test_a_bare_string_is_one_name_and_sets_are_sorted():
    value = Constraints(after="gic", before={"z", "a"}, reads=["y", "x"])

    assert value.after == ("gic",)
    assert value.before == ("a", "z")
    assert value.reads == ("x", "y")
    assert value.writes == value.after_optional == value.before_optional == ()


def test_lists_keep_their_order_and_resources_are_sorted():
    value = Constraints(before_optional=["z", "a"], writes=("b", "a"))

    assert value.before_optional == ("z", "a")
    assert value.writes == ("a", "b")


def test_equal_declarations_are_equal_values_with_equal_hashes():
    one = Constraints(after=["a"], reads={"r"})
    two = Constraints(after="a", reads=("r",))

    assert one == two
    assert hash(one) == hash(two)
    assert len({one, two, Constraints(after="b")}) == 2
    assert one != Constraints(before="a", reads="r")
    assert Constraints() == NONE


def test_the_value_is_frozen():
    value = Constraints(after="a")

    with pytest.raises(dataclasses.FrozenInstanceError):
        value.after = ("b",)  # type: ignore[misc]


def test_repr_shows_only_the_keywords_set():
    assert repr(Constraints()) == "Constraints()"
    assert repr(Constraints(before="b", writes="w")) == (
        "Constraints(before=('b',), writes=('w',))"
    )


def test_ordering_and_describe_leave_out_resources_and_empty_keywords():
    value = Constraints(after=["a", "b"], before_optional="c", reads="r")

    assert value.ordering() == {"after": ("a", "b"), "before_optional": ("c",)}
    assert value.describe() == "after='a', 'b'; before_optional='c'"
    assert Constraints(reads="r").describe() == "-"


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("after", 3, "Constraints: after= must be a str or an iterable of str"),
        ("before", ["a", ""], "Constraints: each before= name must not be empty"),
        ("reads", [1], "Constraints: each reads= name must be a str, got int 1"),
        ("writes", ("w", "w"), "Constraints lists 'w' twice in writes="),
        ("after_optional", [None], "each after_optional= name must be a str"),
        ("before_optional", ("x", b"y"), "each before_optional= name must be a str"),
    ],
)
def test_a_bad_value_names_its_keyword_and_the_culprit(keyword, value, message):
    with pytest.raises(InvalidNotifierError) as info:
        Constraints(**{keyword: value})

    assert message in str(info.value)
    assert info.value.name is None  # no notifier declared it yet


def test_the_registry_names_the_notifier_in_the_same_errors():
    registry = NotifierRegistry[[]]("event")

    with pytest.raises(InvalidNotifierError) as info:
        registry.add("its", noop, writes=("w", "w"))

    assert str(info.value) == "notifier 'its' lists 'w' twice in writes="
    assert info.value.name == "its"
    with pytest.raises(InvalidNotifierError) as bad_item:
        registry.add("its", noop, reads=["r", 1])  # type: ignore[list-item]

    assert str(bad_item.value) == (
        "notifier 'its': each reads= name must be a str, got int 1"
    )
    assert bad_item.value.name == "its"  # the declaration, not the item
    assert "its" not in registry


def test_every_keyword_is_a_field_in_order():
    fields = [field.name for field in dataclasses.fields(Constraints)]

    assert fields == list(KEYWORDS)


def test_a_declared_value_without_constraints_is_the_shared_one():
    # machine/ builds its notifiers' values with Constraints.declared.
    assert Constraints.declared("its") is NONE
    assert Constraints.declared("its", after=["gic"]).after == ("gic",)


def test_a_declaration_without_constraints_shares_one_value():
    registry = NotifierRegistry[[]]("event")

    first = registry.add("a", noop)
    second = registry.add("b", noop)

    assert first.constraints == second.constraints == NONE


def test_add_and_register_accept_a_ready_value():
    registry = NotifierRegistry[[]]("event")
    value = Constraints(after="a", reads="r")
    registry.add("a", noop)

    record = registry.add("b", noop, constraints=value)

    @registry.register(constraints=Constraints(after="b"))
    def c() -> None:
        pass

    assert record.constraints == value
    assert (record.after, record.reads) == (("a",), ("r",))
    assert registry.notifiers()[2].after == ("b",)
    assert registry.order() == ["a", "b", "c"]


def test_a_ready_value_is_checked_against_its_notifier():
    registry = NotifierRegistry[[]]("event")

    with pytest.raises(InvalidNotifierError, match="ordered against itself"):
        registry.add("a", noop, constraints=Constraints(after="a"))
    with pytest.raises(CycleError) as info:
        registry.add("a", noop, constraints=Constraints(after="x", before="x"))

    assert info.value.cycle == ["a", "x", "a"]
    assert len(registry) == 0


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_a_ready_value_and_keywords_together_are_refused(keyword):
    registry = NotifierRegistry[[]]("event")
    value = Constraints(after="a")

    with pytest.raises(InvalidNotifierError) as info:
        registry.add("b", noop, constraints=value, **{keyword: "x"})

    assert str(info.value) == (
        f"notifier 'b': give constraints= or {keyword}=, not both"
    )
    with pytest.raises(InvalidNotifierError, match="not both"):
        registry.register("c", constraints=value, **{keyword: "x"})(noop)
    assert len(registry) == 0


def test_both_lists_every_keyword_given():
    registry = NotifierRegistry[[]]("event")

    with pytest.raises(InvalidNotifierError) as info:
        registry.add("b", noop, constraints=NONE, after="x", writes="w")

    assert str(info.value).endswith("give constraints= or after=, writes=, not both")


def test_a_ready_value_must_be_a_constraints():
    registry = NotifierRegistry[[]]("event")

    with pytest.raises(InvalidNotifierError) as info:
        registry.add("b", noop, constraints={"after": "a"})  # type: ignore[arg-type]

    assert str(info.value) == (
        "notifier 'b': constraints= must be a Constraints, got dict"
    )
    assert info.value.name == "b"


def test_the_name_listed_twice_is_the_repeated_one_not_the_first():
    with pytest.raises(InvalidNotifierError) as info:
        Constraints(after=["a", "b", "c", "b"])

    assert str(info.value) == "Constraints lists 'b' twice in after="
