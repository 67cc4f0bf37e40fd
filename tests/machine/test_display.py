"""Jupyter display of machines, their traces and the matrix; fresh runs per cell."""

import xml.etree.ElementTree as ET

import pytest

from virtmodel.machine.boards.virt.board import virt_board
from virtmodel.machine.boards.virt.lesson import bring_up, fresh_virt
from virtmodel.machine.boards.virt.matrix import Matrix, its_matrix
from virtmodel.notifiers import (
    AlreadyNotifiedError,
    DuplicateNotifierError,
    NotifierRegistry,
)

SVG = "{http://www.w3.org/2000/svg}"


def _statuses(svg):
    root = ET.fromstring(svg)
    return {
        g.get("data-name"): (g.findtext(f"{SVG}text"), g.get("data-status"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def test_the_2016_failure_shows_graph_trace_and_errno():
    run = bring_up(kernel="v4.8-rc1", notifiers="qemu-lifo", its_init="init-done")
    assert not run.ok
    assert run.errno_name == "ENXIO"
    html = run._repr_html_()
    assert "ENXIO" in html.split("<svg", 1)[0]  # the verdict comes first
    nodes = _statuses(run.machine.init_done.to_svg())
    assert nodes["its-ctrl-init"] == ("4. its-ctrl-init", "failed")
    assert nodes["kvm-arm-machine-init-done"] == (
        "5. kvm-arm-machine-init-done",
        "not-run",
    )
    assert nodes["virt-machine-done"] == ("1. virt-machine-done", "ran")
    assert "its-ctrl-init (violated)" in html
    # The trace table: KVM calls with results, the failure highlighted.
    assert "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, CTRL_INIT, NULL) -&gt; ENXIO" in html
    assert html.count("FAILED</td>") >= 2
    assert "<details><summary>realize /machine/virtio-mmio{0..31}" in html
    assert "came up" not in html
    assert "ENXIO" in str(run)


def test_the_fix_comes_up_and_every_notifier_ran():
    run = bring_up(kernel="v4.8-rc1", notifiers="ordered")
    assert run.ok
    assert run.errno_name is None
    assert {s for _, s in _statuses(run.machine.init_done.to_svg()).values()} == {"ran"}
    assert "came up" in run._repr_html_()
    assert run.machine.init_done._repr_mimebundle_()["text/plain"].startswith(
        "kvm-set-addr:gic-dist"
    )


def test_a_machine_before_init_done_shows_a_plain_graph_and_its_trace():
    machine = fresh_virt()
    assert "<table" in machine._repr_html_()  # nothing declared yet: no graph
    machine.create()
    machine.create_accel()
    machine.init_board(virt_board(machine).init)
    html = machine._repr_html_()
    assert "<svg" in html
    assert 'data-status="' not in html  # nothing has run yet
    assert "phase MACHINE_INITIALIZED" in html
    assert machine.trace._repr_html_().startswith("<table")


def test_a_machine_whose_init_done_cannot_be_ordered_says_so():
    machine = fresh_virt(accel="tcg")
    machine.create()
    machine.create_accel()
    machine.init_board(virt_board(machine).init)
    machine.add_init_done("lonely", lambda m: None, after="nobody")
    assert "init-done cannot be ordered" in machine._repr_html_()


def test_a_failure_in_realize_is_named():
    run = bring_up(kernel="v4.8-rc1", its_init="realize")
    assert not run.ok
    assert "failed in its" in run._repr_html_()


def test_every_run_builds_a_fresh_machine():
    first = bring_up(notifiers="qemu-lifo")
    second = bring_up(notifiers="qemu-lifo")
    assert first.machine is not second.machine
    assert len(first.machine.trace) == len(second.machine.trace)


def test_the_matrix_is_a_table_with_failures_highlighted():
    cells = its_matrix()
    assert isinstance(cells, Matrix)
    html = cells._repr_html_()
    assert html.count("<tr") == 13
    assert html.count("background:#fbd5d5") == 3
    assert str(cells).splitlines()[0].split() == [
        "kernel",
        "notifiers",
        "its-init",
        "result",
    ]


def test_re_running_a_cell_gets_an_error_that_says_what_to_do():
    registry = NotifierRegistry[None]("machine-init-done")
    registry.add("x", lambda _: None)
    with pytest.raises(DuplicateNotifierError, match="re-running a notebook cell"):
        registry.add("x", lambda _: None)
    registry.notify(None)
    with pytest.raises(
        AlreadyNotifiedError, match=r"call rearm\(\) to notify it again"
    ):
        registry.notify(None)
