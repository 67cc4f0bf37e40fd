"""Each command imports only what it uses (DESIGN.md section 7; issue 13).

Start-up is most of a ``virtmodel dtb``: the time is spent importing. These
tests run the command line in a fresh interpreter and look at
``sys.modules`` afterwards, so a module-level import that drags in the
notifier registry, networkx, the simulated KVM, the lab, the page or the
exploration fails here, without timing anything (``bench/dtb_vs_qemu.py``
measures the time).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MACHINE = ["-M", "virt,gic-version=3,its=on", "-smp", "4", "-m", "1G"]
MACHINE += ["-cpu", "cortex-a57"]

#: Runs the command line in-process, then prints the modules it imported.
_PROBE = """
import contextlib, io, sys
from virtmodel.machine.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
loaded = sorted(sys.modules)
built = []
if "pydantic" in sys.modules:
    from pydantic import BaseModel
    todo = list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo += model.__subclasses__()
        if model.__module__.startswith("virtmodel.") and model.__pydantic_complete__:
            built.append(model.__qualname__)
import json
print(json.dumps({"status": status, "modules": loaded, "validators": sorted(built)}))
"""

#: Never needed to write a device tree under TCG.
_NOT_FOR_DTB = (
    "networkx",
    "virtmodel.notifiers",
    "virtmodel.machine.kvm",
    "virtmodel.machine.accel",
    "virtmodel.machine.lab",
    "virtmodel.machine.serve",
    "virtmodel.machine.qemu",
    "virtmodel.machine.boards.virt.board",
    "virtmodel.machine.boards.virt.explore",
    "virtmodel.devices.gicv3_kvm",
)

#: The models of devices a GICv3 machine without secure=on or iommu=smmuv3
#: does not have (imported by the board only for machines that have them).
_NOT_ON_THIS_MACHINE = (
    "virtmodel.devices.gicv2",
    "virtmodel.devices.v2m",
    "virtmodel.devices.secure_ram",
    "virtmodel.devices.smmuv3",
)

#: Never needed to bring a machine up, under the simulated KVM too.
_NOT_FOR_RUN = (
    "virtmodel.machine.lab",
    "virtmodel.machine.serve",
    "virtmodel.machine.boards.virt.explore",
    "virtmodel.machine.boards.virt.lesson",
    "virtmodel.machine.boards.virt.matrix",
)


def _probe(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["status"] == 0, done.stderr
    return result


def _imported(*args: str) -> list[str]:
    modules: list[str] = _probe(*args)["modules"]
    return modules


#: Light leaves the parser reads its choices from (closed vocabularies): the
#: simulated KVM's package exports lazily, so these two load no simulator.
_VOCABULARY_LEAVES = ("virtmodel.machine.kvm", "virtmodel.machine.kvm.eras")


def _offenders(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [
        name
        for name in modules
        if name not in _VOCABULARY_LEAVES
        and any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_probe_sees_what_a_command_imports(tmp_path: Path) -> None:
    # Without this, an empty list would pass every test below.
    modules = _imported("dtb", *MACHINE, "-o", str(tmp_path / "virt.dtb"))
    assert "virtmodel.machine.boards.virt.tree" in modules
    assert "virtmodel.devices.gicv3" in modules
    assert (tmp_path / "virt.dtb").stat().st_size == 1 << 20


@pytest.mark.parametrize("command", ["dtb", "dts"])
def test_tcg_device_trees_import_no_registry_kvm_lab_or_exploration(
    command: str, tmp_path: Path
) -> None:
    output = ["-o", str(tmp_path / "virt.dtb")] if command == "dtb" else []
    modules = _imported(command, *MACHINE, *output)
    assert _offenders(modules, _NOT_FOR_DTB) == []


def test_run_under_kvm_imports_no_lab_page_or_board_exploration() -> None:
    modules = _imported("run", *MACHINE, "-accel", "kvm")
    assert "virtmodel.machine.kvm.vm" in modules  # the probe ran the bring-up
    assert _offenders(modules, _NOT_FOR_RUN) == []


@pytest.mark.parametrize("command", ["dtb", "run"])
def test_devices_this_machine_lacks_are_not_imported(
    command: str, tmp_path: Path
) -> None:
    output = ["-o", str(tmp_path / "virt.dtb")] if command == "dtb" else []
    modules = _imported(command, *MACHINE, *output)
    assert "virtmodel.devices.gicv3" in modules  # the GIC it has
    assert _offenders(modules, _NOT_ON_THIS_MACHINE) == []


def test_a_machine_with_those_devices_imports_their_models(tmp_path: Path) -> None:
    # The other side of the test above: the lazy imports do happen.
    machine = ["-M", "virt,gic-version=2,secure=on,iommu=smmuv3", "-cpu", "max"]
    modules = _imported("dtb", *machine, "-o", str(tmp_path / "virt.dtb"))
    assert set(_offenders(modules, _NOT_ON_THIS_MACHINE)) == set(_NOT_ON_THIS_MACHINE)


#: The benchmark machine without gic-version: under KVM the simulated host
#: settles the GIC version on the validated config (settle_gic).
_AUTO_GIC = ["-smp", "4", "-m", "1G", "-cpu", "cortex-a57", "-accel", "kvm"]


@pytest.mark.parametrize(
    ("args", "validated"),
    [
        (["dtb", *MACHINE, "-o", "{tmp}/virt.dtb"], []),
        (["run", *MACHINE, "-accel", "kvm"], ["ItsProps"]),
        (["run", *_AUTO_GIC], ["ItsProps"]),
    ],
    ids=["dtb", "run", "run-gic-auto"],
)
def test_the_board_validates_only_what_the_user_gave(
    args: list[str], validated: list[str], tmp_path: Path
) -> None:
    # The board computes its devices' properties (and a settled GIC version)
    # from the validated config; validating them again would build a
    # pydantic validator per model at start-up
    # (tests/fuzz/test_board_props_checked.py checks pydantic would accept
    # those values unchanged). The ITS's its-init is the user's own value
    # (--its-init, create_virt's its_init=), so run validates that one.
    result = _probe(*(word.format(tmp=tmp_path) for word in args))
    assert "virtmodel.devices.cpu" in result["modules"]
    assert result["validators"] == validated
