from __future__ import annotations

from virtmodel.notifiers.conflicts import tie_break_pairs
from virtmodel.notifiers.registry import NotifierRegistry


def nothing() -> None:
    pass


def test_unordered_writer_and_reader_are_a_tie_break_pair_in_run_order() -> None:
    registry = NotifierRegistry[[]]("init-done")
    registry.add("its-ctrl-init", nothing, reads="kvm.its.addr")
    registry.add("kvm-set-addr:its", nothing, writes="kvm.its.addr")

    (pair,) = tie_break_pairs(registry)

    assert pair.pair == ("its-ctrl-init", "kvm-set-addr:its")
    assert pair.resources == (("kvm.its.addr", "reads", "writes"),)
    assert "only the registration-order tie-break" in str(pair)


def test_ordered_pairs_and_readers_only_are_not_reported() -> None:
    registry = NotifierRegistry[[]]("init-done")
    registry.add("w", nothing, writes="r")
    registry.add("x", nothing, reads="r", after="w")
    registry.add("y", nothing, reads="r")
    registry.add("z", nothing, reads="r")
    registry.add("v", nothing, writes="r", before="w")

    pairs = [pair.pair for pair in tie_break_pairs(registry)]

    # v -> w -> x is declared; y and z read, unordered with both writers, and
    # run first as their ranks are lower than v's (w waits for v).
    assert registry.order() == ["y", "z", "v", "w", "x"]
    assert pairs == [("y", "v"), ("y", "w"), ("z", "v"), ("z", "w")]


def test_pairs_follow_the_order_the_registry_runs_them() -> None:
    registry = NotifierRegistry[[]]("init-done")
    registry.add("late", nothing, writes="r", after="gate")
    registry.add("early", nothing, writes="r")
    registry.add("gate", nothing)

    (pair,) = tie_break_pairs(registry)

    assert registry.order() == ["early", "gate", "late"]
    assert pair.pair == ("early", "late")
    assert pair.as_dict()["resources"] == [
        {"resource": "r", "first": "writes", "second": "writes"}
    ]


def test_several_shared_resources_are_listed_sorted() -> None:
    registry = NotifierRegistry[[]]("init-done")
    registry.add("a", nothing, writes=("zeta", "alpha"), reads="mid")
    registry.add("b", nothing, reads=("alpha", "zeta"), writes="mid")

    (pair,) = tie_break_pairs(registry)

    assert [resource for resource, _, _ in pair.resources] == ["alpha", "mid", "zeta"]
    assert pair.resources[1] == ("mid", "reads", "writes")


def test_a_family_covers_each_name_under_it_whichever_side_declares_it() -> None:
    from virtmodel.notifiers.conflicts import overlap, touches

    assert overlap("device.*", "device.its") == "device.its"
    assert overlap("device.its", "device.*") == "device.its"
    assert overlap("device.*", "devices.x") is None
    assert overlap("a.*", "a.b.*") == "a.b.*"
    registry = NotifierRegistry[[]]("init-done")
    registry.add("realize-its", nothing, writes="device.its")
    registry.add("build-fdt", nothing, reads="device.*", writes="fdt")
    registry.add("probe", nothing, reads="device.gic")
    registry.add("resize", nothing, writes="device.*")

    found = [(t.first, t.second, t.resource) for t in touches(registry.notifiers())]

    assert found == [
        ("realize-its", "build-fdt", "device.its"),
        ("realize-its", "resize", "device.its"),
        ("build-fdt", "resize", "device.*"),
        ("probe", "resize", "device.gic"),
    ]


def test_one_pair_reached_through_two_names_is_one_touch_with_both_uses() -> None:
    from virtmodel.notifiers.conflicts import touches

    registry = NotifierRegistry[[]]("init-done")
    registry.add("a", nothing, reads="x.*", writes="x.y")
    registry.add("b", nothing, writes="x.y")

    (touch,) = touches(registry.notifiers())

    assert (touch.first_reads, touch.first_writes) == (True, True)
    assert (touch.second_reads, touch.second_writes) == (False, True)


def test_hazards_and_tie_break_pairs_read_the_same_analysis() -> None:
    registry = NotifierRegistry[[]]("init-done")
    registry.add("fdt", nothing, reads="device.*")
    registry.add("its", nothing, writes="device.its")

    (hazard,) = registry.hazards()
    (pair,) = tie_break_pairs(registry)

    assert (hazard.kind, hazard.resource, hazard.writer, hazard.other) == (
        "unordered-read",
        "device.its",
        "its",
        "fdt",
    )
    assert pair.pair == ("fdt", "its")
    assert pair.resources == (("device.its", "reads", "writes"),)
