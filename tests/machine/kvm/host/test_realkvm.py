"""The host backend on a real Linux 6.1 KVM (the lab), against the v6.1 simulation.

ONE guest boot runs every case of :mod:`guest_driver` with ``--kvm host``;
each case's KVM calls (ioctl, device, group, attribute, value, result,
errno) must equal the v6.1 simulation's, and a bring-up the kernel refuses
must fail with the same one-line report, reasons aside (the simulator
explains its refusals; the kernel only gives an errno).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.machine.kvm.host import guest_driver
from tests.machine.lab.conftest import guest_timeout, real_lab
from virtmodel.machine.kvm.uapi import KVM_EXIT_MMIO
from virtmodel.machine.lab.run import run_in_guest

pytestmark = pytest.mark.realkvm

DRIVER = Path(guest_driver.__file__)


@pytest.fixture(scope="module")
def real() -> dict[str, dict[str, Any]]:
    """Every case, run once on the lab's real kernel (one boot)."""
    paths = real_lab()
    status, lines = run_in_guest(
        ["/lab/driver.py", *guest_driver.CASES],
        timeout=guest_timeout(),
        paths=paths,
        files={"driver.py": (DRIVER.read_bytes(), 0o644)},
    )
    assert status == 0, "\n".join(lines[-20:])
    results = [json.loads(line) for line in lines if line.startswith("{")]
    return {r["case"]: r for r in results}


def _without_reason(result: dict[str, Any]) -> Any:
    # The report ends with the failed call's reason: the simulator's
    # explanation, or the kernel's strerror.
    report, reason = result["failed"], result["reason"]
    if report is None or reason is None:
        return report
    assert report.endswith(reason)
    return report.removesuffix(reason)


@pytest.mark.parametrize("case", [c for c in guest_driver.CASES if c != "cli"])
def test_the_real_kernel_answers_every_call_as_the_v6_1_simulation(real, case):
    sim = guest_driver.bring_up(case, "sim")
    host = real[case]
    assert host["calls"] == sim["calls"]
    assert host["errno"] == sim["errno"]
    assert _without_reason(host) == _without_reason(sim)


@pytest.mark.parametrize("case", [*guest_driver.matrix_cases(), "composed"])
def test_the_bring_ups_run_the_guest_to_its_mmio_exit(real, case):
    assert real[case]["failed"] is None, real[case]["failed"]
    assert real[case]["calls"][-1]["ioctl"] == "KVM_RUN"
    vcpus = 2 if case == "composed" else 4
    assert real[case]["exits"] == [KVM_EXIT_MMIO] * vcpus


@pytest.mark.parametrize("case", [c for c in guest_driver.CASES if c != "cli"])
def test_every_fd_is_closed_after_each_bring_up_on_the_real_kernel(real, case):
    assert real[case]["leaked_fds"] == 0


def test_a_board_without_a_redistributor_address_fails_with_the_kernel_errno(real):
    failed = real["composed-without-redist"]
    assert failed["errno"] is not None
    assert failed["calls"][-1]["ioctl"] == "KVM_RUN"
    assert failed["calls"][-1]["errno"] == failed["errno"]
    assert "host kernel:" in failed["failed"]
    assert failed["failed"].startswith("machine failed to come up: ")
    assert real["composed"]["failed"] is None


def test_the_done_when_command_prints_the_simulation_s_calls_and_results(real):
    """``lab run -- run ... -accel kvm --kvm host``, as the issue asks."""
    sim = guest_driver.cli_case("sim")
    host = real["cli"]
    assert host["status"] == sim["status"] == 0
    # Only the header's kernel name differs: "v6.1" vs "host (6.1.0-...)".
    assert host["lines"][0] == sim["lines"][0]
    assert host["lines"][1].startswith(
        "# notifiers=ordered its-init=realize kernel=host ("
    )

    # A probe's "no" carries its reason: the simulator's words, the kernel's
    # strerror. The rest must be equal.
    def calls(lines: list[str]) -> list[str]:
        kept = [line for line in lines[2:] if "accelerator" not in line]
        return [line.split(" (")[0] if " -> " in line else line for line in kept]

    trace = calls(sim["lines"])
    assert calls(host["lines"]) == trace
    # The reset's vGIC state is there, folded into one counted line (the same
    # counts per attribute group on both sides, by the equality above).
    (state,) = [line for line in trace if "calls: #" in line]
    assert "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x" in state
    folded = re.search(r"\[(\d+) calls: #", state)
    assert folded is not None
    assert int(folded.group(1)) > 600
