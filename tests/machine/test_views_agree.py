"""Every view of init-done describes the order that actually runs.

For every notifier mode x ITS placement x kernel era the machine is brought
up for real; the run trace's notifier lines are the truth. The graph's
numbering, its violated edges, ``explain`` for every pair, the hazards, the
CLI's JSON and (in ordered mode) ``explore``'s reference order must agree
with it.
"""

from __future__ import annotations

import itertools
import json
import re

import networkx as nx
import pytest

from virtmodel.devices.its_init import ItsInit
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.explore import init_done_builder
from virtmodel.machine.boards.virt.matrix import ERAS, MODES, PLACEMENTS
from virtmodel.machine.cli.main import main
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import Era
from virtmodel.machine.machine import Machine
from virtmodel.machine.notifier_modes import NotifierMode
from virtmodel.machine.phases import Phase
from virtmodel.machine.trace import Kind
from virtmodel.notifiers import explore

OPTIONS = {
    "machine": "virt,gic-version=3,its=on",
    "smp": "4",
    "memory": "1G",
    "cpu": "cortex-a57",
    "accel": "kvm",
}
ARGV = ["-M", OPTIONS["machine"], "-smp", "4", "-m", "1G", "-cpu", "cortex-a57"]
CASES = list(itertools.product(MODES, PLACEMENTS, ERAS))


def _booted(mode: NotifierMode, placement: ItsInit, era: Era) -> tuple[Machine, bool]:
    config = VirtConfig.from_options(**OPTIONS)
    machine = create_virt(
        config, kernel_semantics=era, notifiers=mode, its_init=placement, seed=0
    )
    try:
        boot_virt(machine)
    except MachineFailedError:
        return machine, False
    return machine, True


def _ran(machine: Machine) -> list[str]:
    """The notifiers the trace shows starting, in trace order."""
    return [e.data["notifier"] for e in machine.trace.of_kind(Kind.NOTIFIER)]


def _dot_numbering(dot: str) -> list[str]:
    numbered = re.findall(r'^  "([^"]+)" \[label="(\d+)\. ', dot, re.MULTILINE)
    return [name for name, _ in sorted(numbered, key=lambda item: int(item[1]))]


def _dot_violated(dot: str) -> set[tuple[str, str]]:
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)" \[(.*)\];$', dot, re.MULTILINE)
    return {(u, v) for u, v, attrs in edges if "(violated)" in attrs}


@pytest.mark.parametrize(("mode", "placement", "era"), CASES)
def test_every_view_describes_the_order_that_runs(mode, placement, era):
    machine, _ = _booted(mode, placement, era)
    init_done = machine.init_done
    order = init_done.order()
    ran = _ran(machine)
    assert order[: len(ran)] == ran  # the trace is the start of the order

    position = {name: i for i, name in enumerate(order)}
    graph = init_done.registry.graph()
    broken = {(u, v) for u, v in graph.edges if position[v] < position[u]}
    assert {(e.source, e.target) for e in init_done.violated_edges()} == broken
    if mode == "ordered":
        assert broken == set()

    dot = init_done.to_dot()
    assert _dot_numbering(dot) == order
    assert _dot_violated(dot) == broken
    mermaid = init_done.to_mermaid()
    for index, name in enumerate(order, 1):
        assert f'["{index}. {name}"]' in mermaid
    assert mermaid.count("(violated)") == len(broken)

    for first, second in itertools.combinations(order, 2):
        answer = init_done.explain(second, first)
        assert (answer.earlier, answer.later) == (first, second)
        assert answer.violated == nx.has_path(graph, second, first)
        if answer.violated:
            assert "ignores the declarations" in answer.summary

    # No reader runs before one of its writers without a hazard saying so.
    hazards = {(h.writer, h.other, h.resource) for h in init_done.hazards()}
    records = {n.name: n for n in init_done.registry.notifiers()}
    for reader, writer in itertools.permutations(order, 2):
        shared = set(records[reader].reads) & set(records[writer].writes)
        for resource in shared:
            if position[reader] < position[writer]:
                assert (writer, reader, resource) in hazards


def test_the_2016_failure_is_named_by_every_view():
    machine, came_up = _booted("qemu-lifo", "init-done", "v4.8-rc1")
    assert not came_up
    init_done = machine.init_done
    assert _ran(machine)[-1] == "its-ctrl-init"  # it failed before its writer

    answer = init_done.explain("kvm-arm-machine-init-done", "its-ctrl-init")
    assert answer.earlier == "its-ctrl-init"
    assert answer.violated
    assert "QEMU's newest-first list ignores the declarations" in str(answer)
    assert "devices/its.py:" in str(answer)

    (hazard,) = [h for h in init_done.hazards() if h.resource == "kvm.its.addr"]
    assert hazard.kind == "runs-before-write"
    assert (hazard.other, hazard.writer) == (
        "its-ctrl-init",
        "kvm-arm-machine-init-done",
    )

    dot = init_done.to_dot()
    assert ("kvm-arm-machine-init-done", "its-ctrl-init") in _dot_violated(dot)
    notes = [e.text for e in machine.trace.of_kind(Kind.NOTE)]
    assert any("declared after=kvm-arm-machine-init-done" in n for n in notes)


@pytest.mark.parametrize(("mode", "placement", "era"), CASES)
def test_the_cli_json_tells_the_same_story(capsys, mode, placement, era):
    machine, came_up = _booted(mode, placement, era)
    argv = [
        "run",
        *ARGV,
        "-accel",
        "kvm",
        "--notifiers",
        mode,
        "--its-init",
        placement,
        "--kernel-semantics",
        era,
        "--seed",
        "0",
        "--check",
        "--json",
    ]
    status = main(argv)
    out, _ = capsys.readouterr()
    document = json.loads(out)  # exactly one JSON document, hazards inside

    hazards = machine.init_done.hazards()
    assert status == (1 if not came_up else 3 if hazards else 0)
    assert document["init_done_order"] == machine.init_done.order()
    assert len(document["hazards"]) == len(hazards)
    assert [(e["source"], e["target"]) for e in document["violated_edges"]] == [
        (e.source, e.target) for e in machine.init_done.violated_edges()
    ]
    notifiers = [
        e["data"]["notifier"] for e in document["trace"] if e["kind"] == "notifier"
    ]
    assert notifiers == _ran(machine)

    if placement == "init-done":
        pair = ["its-ctrl-init", "pcie-bus-done"]
        assert main(["explain", *argv[1:-2], *pair, "--json"]) == 0
        explained = json.loads(capsys.readouterr()[0])
        assert explained["earlier"] == min(pair, key=machine.init_done.order().index)


@pytest.mark.parametrize(
    ("placement", "era"), list(itertools.product(PLACEMENTS, ERAS))
)
def test_explore_starts_from_the_order_that_runs(placement, era):
    machine, _ = _booted("ordered", placement, era)
    if not machine.phase.reached(Phase.MACHINE_READY):
        # It failed in realize: no init-done order ran, nothing to explore.
        assert machine.failure is not None
        assert machine.failure.device == "its"
        assert _ran(machine) == []
        return
    build, check = init_done_builder(
        VirtConfig.from_options(**OPTIONS), kernel_semantics=era, its_init=placement
    )
    result = explore(build, check=check, limit=30, seed=0)
    assert list(result.reference_order) == machine.init_done.order()


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_lists_every_exit_status(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for code, words in (
        (0, "came up"),
        (1, "failed to come up"),
        (2, "bad input"),
        (3, "hazards"),
    ):
        line = next(
            line for line in out.splitlines() if line.strip().startswith(f"{code} ")
        )
        assert words in line
