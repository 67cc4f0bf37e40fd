from __future__ import annotations

import errno

from virtmodel.notifiers.explore.outcome import Failure, Outcome, canonical, observe


def test_failure_keeps_type_message_and_errno_name() -> None:
    failure = Failure.of("its-ctrl-init", OSError(errno.ENXIO, "no its base"))

    assert failure.errno == errno.ENXIO
    assert failure.errno_name == "ENXIO"
    assert (
        str(failure) == "'its-ctrl-init' raised OSError (ENXIO): [Errno 6] no its base"
    )
    assert Failure.of("x", ValueError()).as_dict()["errno"] is None


def test_mappings_and_sets_compare_by_content_with_sorted_text() -> None:
    one, one_text = canonical({"b": {3, 1}, "a": [2, 1]})
    two, two_text = canonical({"a": [2, 1], "b": {1, 3}})

    assert one == two
    assert one_text == two_text == "{'a': [2, 1], 'b': {1, 3}}"
    assert canonical([1, 2])[0] != canonical([2, 1])[0]
    assert canonical(set())[1] == "set()"
    assert canonical((1,))[1] == "(1,)"


def test_unhashable_values_fall_back_to_repr() -> None:
    class Box:
        __hash__ = None  # type: ignore[assignment]  # an unhashable value

        def __repr__(self) -> str:
            return "Box()"

    assert canonical(Box()) == (("repr", "Box()"), "Box()")


def test_observe_records_a_raising_check_as_state() -> None:
    def check(_: object) -> object:
        raise KeyError("gone")

    outcome = observe((), check, (None,))

    assert outcome.ok
    assert outcome.state_text == "<check raised KeyError: 'gone'>"
    assert outcome == observe((), check, (None,))


def test_outcome_without_check_describes_only_failures() -> None:
    failure = Failure("a", "OSError", "boom", errno.EBUSY)

    assert str(observe((), None, ())) == "every notifier ran"
    assert str(Outcome((failure,))) == "'a' raised OSError (EBUSY): boom"
