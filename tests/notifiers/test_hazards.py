from __future__ import annotations

import json

from virtmodel.notifiers import Hazard, NotifierRegistry


def noop() -> None:
    pass


def kinds(hazards: list[Hazard]) -> list[tuple[str, str, str, str]]:
    return [(h.kind, h.resource, h.writer, h.other) for h in hazards]


def test_reader_not_ordered_after_the_writer_is_an_unordered_read():
    registry = NotifierRegistry[[]]("machine-init-done")
    writer = registry.add("kvm-set-addr:its", noop, writes="kvm.its.addr")
    reader = registry.add("its-ctrl-init", noop, reads="kvm.its.addr")

    (hazard,) = registry.hazards()

    assert kinds([hazard]) == [
        ("unordered-read", "kvm.its.addr", "kvm-set-addr:its", "its-ctrl-init")
    ]
    assert (hazard.writer_location, hazard.other_location) == (
        writer.location,
        reader.location,
    )
    assert hazard.fix == "add after='kvm-set-addr:its' to 'its-ctrl-init'"
    assert str(hazard) == (
        f"unordered-read on 'kvm.its.addr': 'its-ctrl-init' (at {reader.location}) "
        "reads it but nothing orders it after writer 'kvm-set-addr:its' "
        f"(at {writer.location}); fix: add after='kvm-set-addr:its' to 'its-ctrl-init'"
    )


def test_declared_after_edge_clears_the_hazard_even_through_a_chain():
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("kvm-set-addr:its", noop, writes="kvm.its.addr")
    registry.add("middle", noop, after="kvm-set-addr:its")
    registry.add("its-ctrl-init", noop, reads="kvm.its.addr", after="middle")

    assert registry.hazards() == []


def test_reader_ordered_before_the_writer_is_read_before_write():
    registry = NotifierRegistry[[]]("qemu-lifo")
    registry.add("its-ctrl-init", noop, reads="kvm.its.addr", before="kvm-set-addr")
    registry.add("kvm-set-addr", noop, writes=["kvm.its.addr", "gic.dist"])

    (hazard,) = registry.hazards()

    assert hazard.kind == "read-before-write"
    assert hazard.fix.startswith("remove what orders 'its-ctrl-init' before")
    assert "is ordered before writer 'kvm-set-addr'" in str(hazard)


def test_unordered_writers_of_one_resource_are_a_write_write_hazard():
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("a", noop, writes="gic.redist.regions")
    registry.add("b", noop, writes="gic.redist.regions")
    registry.add("c", noop, writes="gic.redist.regions", after="b")

    hazards = registry.hazards()

    assert kinds(hazards) == [
        ("write-write", "gic.redist.regions", "a", "b"),
        ("write-write", "gic.redist.regions", "a", "c"),
    ]
    assert "both write it and nothing orders them" in str(hazards[0])


def test_a_notifier_that_reads_what_it_writes_is_not_its_own_hazard():
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("rmw", noop, reads="x", writes="x")
    registry.add("reader-only", noop, reads="y")

    assert registry.hazards() == []


def test_hazards_are_sorted_by_resource_and_json_serialisable():
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("w", noop, writes=["b", "a"])
    registry.add("r", noop, reads=["a", "b"])

    hazards = registry.hazards()

    assert [h.resource for h in hazards] == ["a", "b"]
    assert json.loads(json.dumps(hazards[0].as_dict()))["fix"] == (
        "add after='w' to 'r'"
    )
