"""One guest boot for many KVM scripts and many QEMU configurations.

A boot costs 10-15 s (more on a loaded machine), so the public entry points
put everything they are given into one guest job: :func:`run_lab_batch`
does both kinds at once, :func:`run_kvm_scripts` and :func:`trace_qemu` are
its two halves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from virtmodel.machine.lab.guest import GuestJob, boot_guest
from virtmodel.machine.lab.kvm import Plan, kvm_job, kvm_results
from virtmodel.machine.lab.paths import LabPaths
from virtmodel.machine.lab.qemu import QemuTrace, qemu_job, qemu_results
from virtmodel.machine.lab.script import KvmScriptResult
from virtmodel.machine.qemu.process import BootResult

__all__ = [
    "LabBatch",
    "default_timeout",
    "run_kvm_scripts",
    "run_lab_batch",
    "trace_qemu",
]

#: Seconds for the kernel to boot and the guest to start its job, with room
#: for a loaded machine.
BOOT_SECONDS = 90.0
#: Seconds per QEMU configuration (launch, settle, report) under TCG.
QEMU_SECONDS = 45.0


@dataclass(frozen=True, slots=True)
class LabBatch:
    """Everything one guest boot answered."""

    #: Per KVM script, one result per call line.
    kvm: list[list[KvmScriptResult]]
    #: Per QEMU configuration, its traced calls.
    traces: list[QemuTrace]
    #: The boot itself (console, QEMU's command line, how it ended).
    boot: BootResult


def default_timeout(scripts: int, calls: int, configurations: int) -> float:
    """Return a timeout that fits a batch of this size on a slow machine."""
    return BOOT_SECONDS + QEMU_SECONDS * configurations + 0.2 * scripts + 0.05 * calls


def run_lab_batch(
    scripts: Sequence[str] = (),
    configurations: Sequence[Sequence[str]] = (),
    *,
    timeout: float | None = None,
    paths: LabPaths | None = None,
    console: TextIO | None = None,
    reset: bool = False,
) -> LabBatch:
    """Run KVM *scripts* and trace QEMU *configurations* in ONE guest boot.

    Each configuration is QEMU's machine arguments (``-M ... -smp ...``);
    the lab adds ``-accel kvm -S -nographic -nic none`` (see
    :func:`virtmodel.machine.lab.qemu.split_configurations` for the
    defaults the CLI applies). With *reset*, each QEMU also gets a
    ``system_reset`` from its monitor once started (``QemuTrace.reset_at``).

    Raises:
        ScriptError: A script is malformed.
        LabNotReadyError: ``virtmodel lab setup`` has not run.
        LabError: The guest hung or crashed, or a helper failed.
    """
    fragments: list[str] = []
    files: dict[str, tuple[bytes, int]] = {}
    plan: Plan = []
    if scripts:
        fragment, files, plan = kvm_job(scripts)
        fragments.append(fragment)
    if configurations:
        fragments.append(qemu_job(configurations, reset=reset))
    if timeout is None:
        calls = sum(len(text.splitlines()) for text in scripts)
        timeout = default_timeout(len(scripts), calls, len(configurations))
    job = GuestJob("".join(fragments), files, with_qemu=bool(configurations))
    run = boot_guest(job, timeout=timeout, paths=paths, console=console)
    console_text = run.boot.console
    return LabBatch(
        kvm=kvm_results(run.sections, plan, console_text) if scripts else [],
        traces=(
            qemu_results(run.sections, configurations, console_text)
            if configurations
            else []
        ),
        boot=run.boot,
    )


def run_kvm_scripts(
    scripts: Sequence[str],
    *,
    timeout: float | None = None,
    paths: LabPaths | None = None,
    console: TextIO | None = None,
) -> list[list[KvmScriptResult]]:
    """Run every KVM script on the guest's /dev/kvm in ONE boot.

    The result lists follow *scripts*; each has one entry per call line
    (``end`` lines excepted), in order. Scripts are checked on the host
    first, so a malformed one costs no boot. Each script starts without a
    VM (an ``end`` is added after it). A thousand short scripts take a few
    seconds of guest time on top of the boot.

    Raises:
        ScriptError: A script is malformed (``script N: line L: ...``).
        LabNotReadyError: ``virtmodel lab setup`` has not run.
        LabError: The guest or kvmexec failed, or answers are missing.
    """
    batch = run_lab_batch(scripts, timeout=timeout, paths=paths, console=console)
    return batch.kvm


def trace_qemu(
    configurations: Sequence[Sequence[str]],
    *,
    timeout: float | None = None,
    paths: LabPaths | None = None,
    console: TextIO | None = None,
    reset: bool = False,
) -> list[QemuTrace]:
    """Trace real QEMU's KVM calls for every configuration in ONE boot."""
    batch = run_lab_batch(
        configurations=configurations,
        timeout=timeout,
        paths=paths,
        console=console,
        reset=reset,
    )
    return batch.traces
