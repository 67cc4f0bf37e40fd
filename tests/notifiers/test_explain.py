from __future__ import annotations

import json

import pytest

from virtmodel.notifiers import (
    InvalidNotifierError,
    NotifierRegistry,
    UnknownNotifierError,
)


def noop(machine: object) -> None:
    pass


@pytest.fixture
def registry() -> NotifierRegistry[object]:
    return NotifierRegistry[object]("machine-init-done")


def test_explain_gives_the_chain_of_declarations_with_locations(registry):
    registry.add("its-ctrl-init", noop, after="kvm-set-addr:its")
    registry.add("kvm-set-addr:its", noop, after="kvm-set-addr:dist")
    dist = registry.add("kvm-set-addr:dist", noop, before="kvm-set-addr:its")

    explanation = registry.explain("its-ctrl-init", "kvm-set-addr:dist")

    assert (explanation.earlier, explanation.later) == (
        "kvm-set-addr:dist",
        "its-ctrl-init",
    )
    assert explanation.ordered
    assert [(e.source, e.target, e.declared_by) for e in explanation.chain] == [
        ("kvm-set-addr:dist", "kvm-set-addr:its", "kvm-set-addr:its"),
        ("kvm-set-addr:its", "its-ctrl-init", "its-ctrl-init"),
    ]
    lines = str(explanation).splitlines()
    assert lines[0] == (
        "'kvm-set-addr:dist' runs before 'its-ctrl-init' (positions 1 and 3) "
        "because of 2 declared edges:"
    )
    assert lines[1].startswith(
        "  'kvm-set-addr:dist' -> 'kvm-set-addr:its': 'kvm-set-addr:its' "
        "after='kvm-set-addr:dist' (at "
    )
    assert dist.location not in lines[1]  # the hard after= wins over before=


def test_explain_of_a_direct_edge_says_one_declared_edge(registry):
    registry.add("a", noop)
    registry.add("b", noop, after="a")

    explanation = registry.explain("b", "a")

    assert str(explanation).splitlines()[0].endswith("because of 1 declared edge:")


def test_explain_of_unordered_names_credits_the_tie_break(registry):
    registry.add("gic", noop)
    registry.add("uart", noop)

    explanation = registry.explain("uart", "gic")

    assert not explanation.ordered
    assert explanation.chain == ()
    assert str(explanation) == (
        "nothing orders 'gic' and 'uart' (positions 1 and 2); the tie-break runs "
        "whichever ready notifier was registered first, and 'gic' was registered "
        "before 'uart'"
    )


def test_explain_says_why_an_earlier_registration_can_run_later(registry):
    registry.add("uart", noop, after="clocks")
    registry.add("gic", noop)
    registry.add("clocks", noop)

    explanation = registry.explain("uart", "gic")

    assert registry.order() == ["gic", "clocks", "uart"]
    assert (explanation.earlier, explanation.later) == ("gic", "uart")
    assert str(explanation).endswith(
        "'uart' was registered first but waits for 'clocks' (position 2), "
        "which the order puts after 'gic'"
    )


def test_explain_rejects_unknown_and_identical_names(registry):
    registry.add("gic", noop)

    with pytest.raises(UnknownNotifierError, match="did you mean 'gic'"):
        registry.explain("gic", "gicc")
    with pytest.raises(InvalidNotifierError, match="two different notifiers"):
        registry.explain("gic", "gic")


def test_explanation_as_dict_is_json(registry):
    registry.add("a", noop)
    registry.add("b", noop, after="a")

    data = registry.explain("a", "b").as_dict()

    assert json.loads(json.dumps(data))["chain"][0]["keyword"] == "after"
    assert data["earlier"] == "a"
