"""Explore the ``virt`` machine's init-done phase under its valid orders.

:func:`init_done_builder` gives ``notifiers.explore`` what it needs: a
``build()`` that makes a fresh machine, brings it to MACHINE_READY without
running the notifiers, and hands over the registry; and a ``check()`` that
finishes bring-up (reset, first vCPU run) and fingerprints the outcome, so an
order that only fails at the first ``KVM_RUN`` (kernel v4.8) still shows.

The machines are strict: a notifier whose KVM call touches an attribute it
did not declare in ``reads=``/``writes=`` fails. That is what makes
``explore``'s partial-order reduction sound here: the declarations it
reasons from are checked on every run, and an undeclared access shows up as
a failure in the outcome instead of silently merging classes that differ.
"""

from __future__ import annotations

import errno as errno_mod
from collections.abc import Callable, Iterable
from typing import Any

from virtmodel.devices.its_init import ItsInit
from virtmodel.machine.boards.virt.board import create_virt, virt_board
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import SemanticsName
from virtmodel.machine.machine import Machine

#: What ``virtmodel explore`` runs when given no options: the 2016 story.
DEFAULT_OPTIONS = {
    "machine": "virt,gic-version=3,its=on",
    "smp": "4",
    "memory": "1G",
    "cpu": "cortex-a57",
    "accel": "kvm",
}


def init_done_builder(
    config: VirtConfig | None = None,
    *,
    kernel_semantics: SemanticsName = "v4.8-rc1",
    its_init: ItsInit = "init-done",
    drop_edges: Iterable[tuple[str, str]] = (),
) -> tuple[Callable[[], tuple[Any, tuple[Machine]]], Callable[[Machine], object]]:
    """Return ``(build, check)`` for ``notifiers.explore`` on a virt machine.

    Raises:
        ConfigError: The default options are refused (cannot happen).
    """
    cfg = config if config is not None else VirtConfig.from_options(**DEFAULT_OPTIONS)
    dropped = tuple(drop_edges)

    def build() -> tuple[Any, tuple[Machine]]:
        machine = create_virt(
            cfg,
            kernel_semantics=kernel_semantics,
            notifiers="ordered",
            its_init=its_init,
            strict=True,
            drop_edges=dropped,
            seed=0,
        )
        machine.create()
        machine.create_accel()
        machine.init_board(virt_board(machine).init)
        machine.enter_ready()
        return machine.init_done.registry, (machine,)

    return build, check_bring_up


def check_bring_up(machine: Machine) -> object:
    """Finish bring-up and return a fingerprint of how it ended.

    The fingerprint is the first vCPU run's result plus every KVM attribute
    the kernel accepted, as a sorted set: the same configuration written in
    another order gives the same fingerprint.
    """
    try:
        machine.reset()
        machine.start()
        ended = "first vCPU run ok"
    except MachineFailedError as exc:
        code = errno_mod.errorcode.get(exc.errno or 0, "?")
        ended = f"first vCPU run failed: {exc.call} -> {code}"
    vm = getattr(machine.accel, "vm", None)
    accepted = (
        sorted(
            {
                f"{c.resource}={_hex_if_address(c.resource, c.value)}"
                for c in vm.calls
                if c.ok and c.ioctl == "KVM_SET_DEVICE_ATTR"
            }
        )
        if vm is not None
        else []
    )
    return (ended, tuple(accepted))


def _hex_if_address(resource: str, value: int) -> str:
    # Addresses read as the memory map prints them; counts stay decimal.
    return f"0x{value:08x}" if ".addr" in resource else str(value)
