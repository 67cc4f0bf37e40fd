from __future__ import annotations

import json

import pytest

from virtmodel.notifiers import (
    NotifierFailedError,
    NotifierRegistry,
    Status,
    Step,
    Trace,
)


def noop(log: list[str]) -> None:
    pass


def failing(log: list[str]) -> None:
    raise ValueError("bad address")


def test_trace_steps_record_status_constraints_and_duration():
    registry = NotifierRegistry[list[str]]("machine-init-done")
    registry.add("a", noop)
    registry.add("b", noop, after="a", before_optional="zz")

    trace = registry.notify([])

    first, second = trace.steps
    assert (first.name, first.status, first.constraints) == ("a", Status.RAN, "-")
    assert second.constraints == "after='a'; before_optional='zz'"
    assert second.duration >= 0.0
    assert second.error is None
    assert trace.ok
    assert len(trace) == 2
    assert repr(trace) == "<Trace 'machine-init-done' 2 steps>"


def test_trace_str_is_a_table_with_a_dropped_edges_section():
    registry = NotifierRegistry[list[str]]("machine-init-done", keep_going=True)
    registry.add("kvm", failing, after_optional="absent")
    registry.add("its", noop, after="kvm")

    with pytest.raises(NotifierFailedError) as info:
        registry.notify([])

    lines = str(info.value.trace).splitlines()
    assert lines[0] == "trace of 'machine-init-done': 2 steps"
    assert lines[1].split() == [
        "#",
        "notifier",
        "status",
        "time",
        "constraints",
        "error",
    ]
    assert lines[2].split()[:3] == ["1", "kvm", "failed"]
    assert lines[2].endswith("ValueError('bad address')")
    assert lines[3].split()[:4] == ["2", "its", "skipped", "-"]
    assert lines[3].endswith("after failed 'kvm'")
    assert lines[4] == "dropped optional edges:"
    assert lines[5].startswith("  'kvm' after_optional='absent' dropped:")


def test_trace_to_json_round_trips_every_field():
    registry = NotifierRegistry[list[str]]("machine-init-done")
    registry.add("a", failing, after_optional="gone")
    registry.add("b", noop)

    with pytest.raises(NotifierFailedError) as info:
        registry.notify([])

    data = json.loads(info.value.trace.to_json())
    assert data["event"] == "machine-init-done"
    assert data["steps"][0] == {
        "name": "a",
        "after_optional": ["gone"],
        "status": "failed",
        "duration": data["steps"][0]["duration"],
        "error": "ValueError('bad address')",
        "late": False,
    }
    assert data["steps"][1]["status"] == "not-run"
    assert data["dropped"][0]["target"] == "gone"
    assert info.value.trace.as_dict() == data


def test_trace_accepts_step_records_and_filters_by_status_name():
    registry = NotifierRegistry[list[str]]("e")
    record = registry.add("a", noop)
    step = Step(record, Status.SKIPPED, error="after failed 'x'")

    trace = Trace("e", [step])

    assert trace.steps == [step]
    assert trace.names("skipped") == ["a"]
    assert trace.names(Status.RAN) == []
    assert not trace.ok
    assert trace.dropped == ()
    with pytest.raises(ValueError, match="'done' is not a valid Status"):
        trace.names("done")


def test_trace_length_is_known_before_steps_are_built():
    registry = NotifierRegistry[list[str]]("e", one_shot=False)
    for name in "abc":
        registry.add(name, noop)

    trace = registry.notify([])

    assert len(trace) == 3
    assert [step.name for step in trace.steps] == ["a", "b", "c"]
    assert len(trace) == 3


def test_trace_str_without_dropped_edges_ends_with_the_last_step():
    registry = NotifierRegistry[list[str]]("machine-init-done")
    registry.add("a", noop)

    lines = str(registry.notify([])).splitlines()

    assert len(lines) == 3  # title, header, the one step: no dropped section
    assert lines[2].split()[:3] == ["1", "a", "ran"]
