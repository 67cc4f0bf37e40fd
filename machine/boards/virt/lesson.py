"""A fresh machine per run, for notebooks and the classroom page.

A notebook cell that builds a machine must work when it is run again, and a
bring-up that fails is the lesson, not an error to stop at. :func:`bring_up`
builds a brand-new ``virt`` machine from QEMU-style options every time it is
called (nothing is shared between calls), brings it up as far as it goes and
returns a :class:`BringUp` holding the machine and the failure, if any. In
Jupyter it shows the init-done graph numbered as it ran and the whole trace.

Example:
    >>> run = bring_up(kernel="v4.8-rc1", notifiers="qemu-lifo")
    >>> run.ok, run.errno_name
    (False, 'ENXIO')
    >>> bring_up(kernel="v4.8-rc1", notifiers="ordered").ok
    True
"""

from __future__ import annotations

import errno as errno_mod
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from virtmodel.devices.its_init import ItsInit
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import SemanticsName
from virtmodel.machine.machine import Machine
from virtmodel.machine.notifier_modes import NotifierMode

#: The 2016 story's machine: GICv3 with an ITS, 4 CPUs, under (simulated) KVM.
STORY = {
    "machine": "virt,gic-version=3,its=on",
    "smp": "4",
    "memory": "1G",
    "cpu": "cortex-a57",
    "accel": "kvm",
}


@dataclass(frozen=True, eq=False)
class BringUp:
    """A machine brought up as far as it went, and why it stopped (if it did)."""

    #: The machine; its trace shows every phase, notifier and KVM call.
    machine: Machine
    #: The failure that stopped it, or None if it reached its first vCPU run.
    failure: MachineFailedError | None

    @property
    def ok(self) -> bool:
        """Return whether the machine came up."""
        return self.failure is None

    @property
    def errno_name(self) -> str | None:
        """Return the kernel's errno name (e.g. "ENXIO") if a KVM call failed."""
        if self.failure is None or self.failure.errno is None:
            return None
        return errno_mod.errorcode.get(self.failure.errno, str(self.failure.errno))

    def __str__(self) -> str:
        verdict = "came up" if self.failure is None else str(self.failure)
        return f"{self.machine.trace}\n{verdict}"

    def _repr_html_(self) -> str:
        # Jupyter: the verdict, then the machine (machine.display).
        from virtmodel.machine.display import machine_html

        if self.failure is None:
            verdict = '<p style="color:#060"><b>came up</b></p>'
        else:
            verdict = f'<p style="color:#c00"><b>{escape(str(self.failure))}</b></p>'
        return verdict + machine_html(self.machine)


def fresh_virt(
    *,
    kernel: SemanticsName = "v4.8-rc1",
    notifiers: NotifierMode = "ordered",
    its_init: ItsInit = "init-done",
    drop_edges: Iterable[tuple[str, str]] = (),
    strict: bool = False,
    **options: str,
) -> Machine:
    """Return a new, not yet started ``virt`` machine (the 2016 one by default).

    *options* are the machine options in the CLI's names (``machine``,
    ``smp``, ``memory``, ``cpu``, ``accel``); missing ones come from
    :data:`STORY`. *kernel* is the simulated kernel era (ignored under TCG).

    Raises:
        ConfigError: An option is unknown, malformed or beyond a limit.
        ValueError: An unknown notifier mode, era or ITS placement.
    """
    config = VirtConfig.from_options(**{**STORY, **options})
    return create_virt(
        config,
        kernel_semantics=kernel if config.accel == "kvm" else "mainline",
        notifiers=notifiers,
        its_init=its_init,
        strict=strict,
        drop_edges=tuple(drop_edges),
        seed=0,
    )


def bring_up(
    *,
    kernel: SemanticsName = "v4.8-rc1",
    notifiers: NotifierMode = "ordered",
    its_init: ItsInit = "init-done",
    drop_edges: Iterable[tuple[str, str]] = (),
    strict: bool = False,
    **options: str,
) -> BringUp:
    """Build a fresh machine (see :func:`fresh_virt`) and bring it up.

    A machine that fails to come up is returned with its failure, not
    raised: the failing trace is what a lesson looks at.

    Raises:
        ConfigError: Bad machine options (nothing was built).
        ValueError: An unknown notifier mode, era or ITS placement.
    """
    machine = fresh_virt(
        kernel=kernel,
        notifiers=notifiers,
        its_init=its_init,
        drop_edges=drop_edges,
        strict=strict,
        **options,
    )
    try:
        boot_virt(machine)
    except MachineFailedError as failure:
        return BringUp(machine, failure)
    return BringUp(machine, None)
