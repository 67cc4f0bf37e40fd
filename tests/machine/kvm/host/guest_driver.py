"""Bring-ups that run both on the simulator and on a real kernel.

Imported by tests/machine/kvm/host/test_realkvm.py for the simulated side;
copied into the lab guest and run as a script for the real side, where it
prints one JSON object per line: ``{"case", "calls", "failed", "errno"}``.
It uses only virtmodel, so the guest needs nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
from typing import Any

from virtmodel.devices import ArmCpu, ArmTimer, GicV3, Its, Pl011, Psci, Ram
from virtmodel.devices.its_init import is_its_init
from virtmodel.machine import IrqKind, KvmAccel, Machine
from virtmodel.machine.boards.virt.board import create_virt, virt_board
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.matrix import MODES, PLACEMENTS
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import is_backend
from virtmodel.machine.notifier_modes import is_notifier_mode

#: The 2016 matrix's machine (boards.virt.matrix.its_matrix's default configuration).
MATRIX_OPTIONS = ("virt,gic-version=3,its=on", "4", "1G", "cortex-a57")


def matrix_cases() -> list[str]:
    """The 6.1 cells: every notifier mode with every ITS placement."""
    return [f"matrix:{mode}:{placement}" for mode in MODES for placement in PLACEMENTS]


def _composed(map_redist: bool) -> Any:
    def board(m: Machine) -> None:
        for i in range(2):
            # No PMU: a board that gives a vCPU one must initialise it.
            cpu = ArmCpu(f"cpu{i}", cpu_type="cortex-a57", index=i, pmu=False)
            m.realize(m.add(cpu))
        m.realize(m.add(Ram("ram", base=0x8000_0000, size=256 << 20)))
        gic = m.add(GicV3("gic", num_cpu=2, redist_region_count=(2,)))
        its = m.add(Its("its"), after="gic")
        uart = m.add(Pl011("uart0", base=0x1C09_0000, irq=5), after="gic")
        m.add(ArmTimer("timer", armv8=True))
        m.add(Psci("psci", conduit="hvc"))
        m.realize_all()
        for dev in (gic, its):
            for name, (base, size) in dev.regions().items():
                if map_redist or "redist" not in name:
                    m.map_mmio(dev, name, base, size)
        m.map_mmio(uart, "uart0", 0x1C09_0000, 0x1000)
        m.connect_irq(uart, 0, IrqKind.SPI, 5)

    return board


CASES = (*matrix_cases(), "composed", "composed-without-redist", "cli")

#: The issue's "done when" command, less ``--kvm host`` (added for the host).
CLI_WORDS = ("run", "-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "256M",
             "-cpu", "host", "-accel", "kvm")  # fmt: skip


def cli_case(backend: str) -> dict[str, Any]:
    """Run the CLI in this process; return its exit status and stdout lines."""
    from virtmodel.machine.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([*CLI_WORDS, "--kvm", backend])
    return {"case": "cli", "status": status, "lines": out.getvalue().splitlines()}


def bring_up(case: str, backend: str) -> dict[str, Any]:
    """Run *case* on *backend* ("sim": the v6.1 simulation; "host")."""
    if case == "cli":
        return cli_case(backend)
    fds_before = _open_fds()
    if case.startswith("matrix:"):
        _, mode, placement = case.split(":")
        assert is_notifier_mode(mode), mode
        assert is_its_init(placement), placement
        assert is_backend(backend), backend
        board, smp, memory, cpu = MATRIX_OPTIONS
        config = VirtConfig.from_options(
            board, smp=smp, memory=memory, cpu=cpu, accel="kvm"
        )
        machine = create_virt(
            config, notifiers=mode, its_init=placement, seed=0, kvm_backend=backend
        )
        board_init = virt_board(machine).init
    else:
        assert is_backend(backend), backend
        machine = Machine("my-board", accel=KvmAccel("v6.1", backend=backend))
        board_init = _composed(map_redist=case == "composed")
    failed: MachineFailedError | None = None
    try:
        machine.boot(board_init)
    except MachineFailedError as exc:
        failed = exc
    accel = machine.accel
    assert isinstance(accel, KvmAccel)
    assert accel.vm is not None
    calls = [
        {k: v for k, v in dataclasses.asdict(c).items() if k != "reason"}
        for c in accel.vm.calls
    ]
    # How each vCPU's last run ended (the host backend says; None otherwise).
    exits = [getattr(v, "exit_reason", None) for v in accel.vcpus.values()]
    accel.close()
    call = machine.failure.kvm_call if machine.failure else None
    return {
        "case": case,
        "exits": exits,
        "leaked_fds": _open_fds() - fds_before,
        "calls": calls,
        "failed": str(failed) if failed else None,
        "errno": failed.errno if failed else None,
        "reason": call.reason if failed and call is not None else None,
    }


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


if __name__ == "__main__":
    for name in sys.argv[1:] or CASES:
        print(json.dumps(bring_up(name, "host"), sort_keys=True), flush=True)
