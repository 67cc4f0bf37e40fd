"""KVM_SET_GSI_ROUTING on an arm64 VM, and the one-line summary traces print.

QEMU 7.2's in-kernel GICv3 routes GSI *n* to irqchip 0, pin *n*, for every
SPI, and commits the table once (``KVM_SET_GSI_ROUTING``). Linux 6.1 checks
the table as a whole (no flags, at most KVM_MAX_IRQ_ROUTES entries), then
each entry: a GSI below the same limit, a known type, and for irqchip
entries chip 0 and a pin below KVM_IRQCHIP_NUM_PINS (EINVAL for all). A GSI
may have several entries only if all are irqchip entries on different chips
(with one irqchip on arm64, a GSI listed twice is EINVAL).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.errors import refuse

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

__all__ = [
    "KVM_IRQCHIP_NUM_PINS",
    "KVM_MAX_IRQ_ROUTES",
    "Route",
    "check_routes",
    "set_gsi_routing",
    "summarize_routes",
]

#: include/linux/kvm_host.h of 6.1: the largest routing table.
KVM_MAX_IRQ_ROUTES: Final = 4096
#: arch/arm64/include/asm/kvm_host.h of 6.1 (KVM_IRQCHIP_NUM_PINS): the SPI
#: space of the vGIC, 1020 - 32.
KVM_IRQCHIP_NUM_PINS: Final = 988
#: arm64 has one irqchip (KVM_NR_IRQCHIPS).
KVM_NR_IRQCHIPS: Final = 1


@dataclass(frozen=True, slots=True)
class Route:
    """One routing entry: GSI *gsi* to irqchip *chip* pin *pin*, or another kind.

    *kind* is ``"irqchip"``, ``"msi"`` or ``"type<N>"`` for a type the
    kernel does not know (EINVAL).
    """

    gsi: int
    kind: str = "irqchip"
    chip: int = 0
    pin: int = 0


def check_routes(routes: Sequence[Route], flags: int = 0) -> None:
    """Refuse a table 6.1 refuses (raise Refusal with EINVAL)."""
    if flags:
        refuse(errno.EINVAL, f"routing flags 0x{flags:x} must be 0")
    if len(routes) > KVM_MAX_IRQ_ROUTES:
        refuse(errno.EINVAL, f"{len(routes)} entries exceed {KVM_MAX_IRQ_ROUTES}")
    for route in routes:
        if route.gsi >= KVM_MAX_IRQ_ROUTES:
            refuse(errno.EINVAL, f"gsi {route.gsi} is not below {KVM_MAX_IRQ_ROUTES}")
    earlier: dict[int, list[Route]] = {}
    for route in routes:
        _check_entry(route, earlier.setdefault(route.gsi, []))


def _check_entry(route: Route, same_gsi: list[Route]) -> None:
    """Refuse one entry as 6.1 does, given the entries before it on its GSI."""
    for other in same_gsi:
        both_irqchip = route.kind == other.kind == "irqchip"
        if not both_irqchip or route.chip == other.chip:
            refuse(errno.EINVAL, f"gsi {route.gsi} is routed twice")
    same_gsi.append(route)
    if route.kind == "msi":
        return
    if route.kind != "irqchip":
        refuse(errno.EINVAL, f"gsi {route.gsi}: routing entry {route.kind} is unknown")
    if route.chip >= KVM_NR_IRQCHIPS:
        refuse(errno.EINVAL, f"irqchip {route.chip} does not exist")
    if route.pin >= KVM_IRQCHIP_NUM_PINS:
        refuse(errno.EINVAL, f"pin {route.pin} is not below {KVM_IRQCHIP_NUM_PINS}")


def summarize_routes(routes: Sequence[Route]) -> str:
    """Spell a table as traces do: runs of consecutive irqchip pins, others counted.

    ``256 entries: gsi 0-255 irqchip 0 pin 0-255``; ``0 entries`` when empty.
    """
    if not routes:
        return "0 entries"
    parts: list[str] = []
    run: list[Route] = []
    others: dict[str, int] = {}

    def close() -> None:
        if run:
            first, last = run[0], run[-1]
            gsis = (
                f"{first.gsi}" if first.gsi == last.gsi else f"{first.gsi}-{last.gsi}"
            )
            pins = (
                f"{first.pin}" if first.pin == last.pin else f"{first.pin}-{last.pin}"
            )
            parts.append(f"gsi {gsis} irqchip {first.chip} pin {pins}")
            run.clear()

    for route in routes:
        if route.kind != "irqchip":
            others[route.kind] = others.get(route.kind, 0) + 1
            continue
        if run:
            prev = run[-1]
            if (prev.gsi + 1, prev.chip, prev.pin + 1) != (
                route.gsi,
                route.chip,
                route.pin,
            ):
                close()
        run.append(route)
    close()
    parts += [f"{count} {kind}" for kind, count in sorted(others.items())]
    return f"{len(routes)} entries: " + ", ".join(parts)


def set_gsi_routing(vm: Vm, routes: Sequence[Route], flags: int = 0) -> None:
    """Run KVM_SET_GSI_ROUTING on *vm* (see :meth:`Vm.set_gsi_routing`)."""
    check_int("flags", flags, 32)
    for route in routes:
        for name, number in (
            ("gsi", route.gsi),
            ("chip", route.chip),
            ("pin", route.pin),
        ):
            check_int(name, number, 32)

    def action() -> int:
        check_routes(routes, flags)
        vm.routes = tuple(routes)
        return 0

    pending = KvmCall(
        seq=-1,
        ioctl="KVM_SET_GSI_ROUTING",
        device="vm",
        group=None,
        attr=summarize_routes(routes),
        value=None,
        resource="kvm.vm.gsi_routing",
    )
    vm.log.invoke(pending, action)
