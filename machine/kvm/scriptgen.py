"""Seeded random KVM scripts over everything :mod:`machine.kvm` models.

Each script is one VM's life: ``create_vm`` with one of several IPA sizes
(valid and not), vCPUs created and initialised with various features, the
vGIC and ITS devices created with and without the TEST flag, then a body of
attribute calls on every group -- addresses valid, misaligned, overlapping,
at and beyond the IPA end, the redistributor-region encoding, NR_IRQS values,
the control attributes, the register groups and the vCPU attributes -- with
first runs among them, and guest memory slots -- valid, unaligned, past the
IPA end, overlapping, moved, resized, deleted and re-added -- and GSI routing
tables at and past each of their limits. Half the scripts
first build a valid GICv3 + ITS layout so the body also reaches the states
after CTRL_INIT and after a successful first run.

Two things are kept out because neither side would mean anything by them:
running a vCPU initialised with EL1_32BIT (the executor's guest is A64 code)
and making a valid ITS command queue or table (the model keeps no guest
tables).
"""

from __future__ import annotations

import random
from typing import Final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import gicv3_sysregs as sysregs
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.encoding import redist_region_attr, reset_mpidr, v3_reg_attr
from virtmodel.machine.kvm.script import GUEST_IPA, GUEST_SIZE

_GRP_ADDR, _GRP_CTRL = c.KVM_DEV_ARM_VGIC_GRP_ADDR, c.KVM_DEV_ARM_VGIC_GRP_CTRL
_IPA_CHOICES: Final = (0, 0, 0, 32, 36, 40, 44, 48, 48, 31, 49, 52, 0x120)
_FEATURES: Final = (
    0,
    0,
    0,
    4,
    4,
    8,
    8,
    1,
    0x60,
    0x20,
    0x40,
    0x10,
    0x80,
    0x100,
    0xC,
    0x88,
    0x5,
)
_DEVICE_TYPES: Final = (7, 7, 7, 8, 8, 8, 5, 0, 4, 9, 10, 11, 1000)
_NR_IRQS: Final = (64, 96, 128, 256, 992, 32, 100, 1023, 1024, 0)
_VCPU_IDS: Final = (0, 0, 1, 1, 2, 3, 4, 15, 16, 17, 255, 511, 512, 0x10000)
_SYSREGS: Final = (*sorted(sysregs.CPU_SYSREGS), 0xC231, 0x0, 0xFFFF)
_DIST_OFFSETS: Final = (
    *(0x0, 0x4, 0x8, 0xC, 0x10, 0x14, 0x2, 0x20, 0xFFE8, 0xFFD0, 0xFFFC),
    *(0x80, 0x84, 0x100, 0x104, 0x11C, 0x120, 0x180, 0x184, 0x200, 0x204),
    *(0x280, 0x284, 0x300, 0x304, 0x380, 0x384, 0x400, 0x420, 0x424, 0x43C),
    *(0x7F8, 0x800, 0x820, 0xC00, 0xC08, 0xC0C, 0xC3C, 0xD00, 0xD04),
    *(0x6000, 0x6100, 0x6104, 0x6108, 0x7FF8, 0x10000),
)
_REDIST_OFFSETS: Final = (
    *(0x0, 0x4, 0x8, 0xC, 0x10, 0x14, 0x70, 0x74, 0x78, 0x7C, 0xA0, 0xB0),
    *(0xC0, 0xFFE8, 0x6, 0x100, 0x10080, 0x10100, 0x10180, 0x10200, 0x10280),
    *(0x10300, 0x10380, 0x10400, 0x1041C, 0x10420, 0x10C00, 0x10C04, 0x10C08),
    *(0x10D00, 0x10E00, 0x10E04, 0x20000),
)
_ITS_OFFSETS: Final = (
    *(0x0, 0x4, 0x8, 0xC, 0x80, 0x84, 0x88, 0x90, 0x100, 0x108, 0x110, 0x138),
    *(0x140, 0x2, 0xFFD0, 0xFFE8, 0xFFFC, 0x10000, 0x200),
)
_U32_VALUES: Final = (0, 1, 0xFFFFFFFF, 0x5, 0x80000000, 0xAAAAAAAA, 0x3, 0x100, 0x52)
_PMU_IRQS: Final = (23, 23, 16, 31, 32, 48, 100, 1019, 1020, 15, 0xFFFFFFFF)
_TIMER_IRQS: Final = (27, 30, 26, 16, 31, 32, 10)
_PVTIME: Final = (0x80000000, 0x80000040, 0x80000020, 0x90000000, 0x8000FFC0)
#: Memory slots: ids (0 is the executor's guest slot; 32767 and up in the
#: low half, or any high half, are refused), bases and sizes (at most the
#: executor's 1 GiB reservation, so a guest access stays backed).
_SLOT_IDS: Final = (1, 1, 2, 2, 3, 4, 5, 32766, 32767, 0x10001, 0xFFFFFFFF)
_SLOT_BASES: Final = (0x40000000, 0x90000000, 0xC0000000, 0x100000000, 0x8000000)
_SLOT_SIZES: Final = (0x1000, 0x10000, 0x10000, 0x200000, 0x1000000)
#: Slot flags: none (mostly), dirty logging, read-only (QEMU's flash), both,
#: and ones arm64 refuses.
_SLOT_FLAGS: Final = (0, 0, 0, 0, 1, 2, 2, 3, 4, 0x80000000)
#: GSI routing tables (FLAGS COUNT GSI STEP TYPE CHIP PIN): QEMU's own, the
#: limits (4096 entries and GSIs, 988 pins, one irqchip), a GSI listed twice,
#: MSI and unknown entry types, nonzero flags.
_ROUTINGS: Final = (
    (0, 256, 0, 1, 1, 0, 0),
    (0, 32, 0, 1, 1, 0, 0),
    (0, 0, 0, 0, 1, 0, 0),
    (0, 1, 4095, 1, 1, 0, 987),
    (0, 2, 4095, 1, 1, 0, 0),
    (0, 2, 0, 1, 1, 0, 987),
    (0, 988, 0, 1, 1, 0, 0),
    (0, 4096, 0, 1, 2, 0, 0),
    (0, 4097, 0, 1, 2, 0, 0),
    (0, 2, 5, 0, 1, 0, 0),
    (0, 2, 5, 0, 2, 0, 0),
    (0, 1, 5, 0, 2, 0, 0),
    (0, 1, 0, 1, 1, 1, 0),
    (0, 1, 0, 1, 3, 0, 0),
    (0, 1, 0, 1, 0, 0, 0),
    (1, 1, 0, 1, 1, 0, 0),
    (0, 1, 0x100000000, 1, 1, 0, 0),
)
#: A layout that works for up to 8 vCPUs at any IPA size: ITS, distributor,
#: redistributors (also the region QEMU's virt board uses).
_ITS_BASE, _DIST_BASE, _REDIST_BASE = 0x8080000, 0x8000000, 0x80A0000


class ScriptGenerator:
    """Make scripts from one seed; the same seed always gives the same scripts."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def scripts(self, count: int) -> list[str]:
        """Return *count* scripts."""
        return [self.script() for _ in range(count)]

    def script(self) -> str:
        """Return one script: a VM from creation to ``end``."""
        return _Builder(self.rng).build()


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.ipa = 40
        self.vcpus: list[int] = []
        self.el1_32bit: set[int] = set()
        self.devices = 0
        self.runs = 0
        #: The slots a script made, as the generator believes (it does not
        #: track refusals): used to aim at overlaps, moves and deletions.
        self.slots: dict[int, tuple[int, int, int]] = {}

    def emit(self, *fields: object) -> None:
        self.lines.append(" ".join(_show(f) for f in fields))

    def build(self) -> str:
        rng = self.rng
        bits = rng.choice(_IPA_CHOICES)
        self.ipa = (bits & 0xFF) or 40
        self.emit("create_vm", bits)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            self.create_vcpu(init=rng.random() < 0.85)
        if rng.random() < 0.5:
            self.happy_path()
        for _ in range(rng.randint(8, 40)):
            self.random_call()
        if self.vcpus and rng.random() < 0.7:
            self.run()
        self.emit("end")
        return "\n".join(self.lines) + "\n"

    def create_vcpu(self, init: bool) -> None:
        rng = self.rng
        free = [i for i in range(8) if i not in self.vcpus]
        vcpu_id = free[0] if free and rng.random() < 0.8 else rng.choice(_VCPU_IDS)
        self.emit("create_vcpu", vcpu_id)
        if vcpu_id not in self.vcpus:
            self.vcpus.append(vcpu_id)
        if init:
            self.vcpu_init(vcpu_id)

    def vcpu_init(self, vcpu_id: int) -> None:
        features = self.rng.choice(_FEATURES)
        if self.rng.random() < 0.03:
            features = 2  # EL1_32BIT: such a vCPU is never run
            self.el1_32bit.add(vcpu_id)
        self.emit("vcpu_init", vcpu_id, features)

    def happy_path(self) -> None:
        rng = self.rng
        gic, its = self.devices, self.devices + 1
        self.emit("create_device", 7, 0)
        self.emit("create_device", 8, 0)
        self.devices += 2
        self.emit("set_attr", f"d{its}", _GRP_ADDR, 4, _ITS_BASE)
        self.emit("set_attr", f"d{gic}", _GRP_ADDR, 2, _DIST_BASE)
        if rng.random() < 0.5:
            self.emit("set_attr", f"d{gic}", _GRP_ADDR, 3, _REDIST_BASE)
        else:
            value = redist_region_attr(rng.choice((4, 8, 16)), _REDIST_BASE, 0, 0)
            self.emit("set_attr", f"d{gic}", _GRP_ADDR, 5, value)
        if rng.random() < 0.7:
            self.emit("set_attr", f"d{gic}", c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, 288)
        for vcpu_id in self.vcpus:
            if rng.random() < 0.3:
                self.vcpu_attr(vcpu_id)
        if rng.random() < 0.85:
            self.emit("set_attr", f"d{gic}", _GRP_CTRL, 0, 0)
        if self.vcpus and rng.random() < 0.4:
            self.run()

    def run(self) -> None:
        candidates = [v for v in self.vcpus if v not in self.el1_32bit]
        if candidates and self.runs < 3:
            self.runs += 1
            self.emit("run", self.rng.choice(candidates))

    def random_call(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            self.create_vcpu(init=rng.random() < 0.5)
        elif roll < 0.08 and self.vcpus:
            self.vcpu_init(rng.choice(self.vcpus))
        elif roll < 0.14:
            self.emit(
                "create_device", rng.choice(_DEVICE_TYPES), int(rng.random() < 0.4)
            )
            self.devices += 1  # a failed create leaves a handle that answers EBADF
        elif roll < 0.22 and self.vcpus:
            self.vcpu_attr(rng.choice(self.vcpus))
        elif roll < 0.25 and self.vcpus:
            self.run()
        elif roll < 0.31:
            self.memory_region()
        elif roll < 0.34:
            self.emit("set_gsi_routing", *rng.choice(_ROUTINGS))
        elif self.devices:
            self.device_attr(f"d{rng.randrange(self.devices + 1)}")

    def memory_region(self) -> None:
        """Emit one KVM_SET_USER_MEMORY_REGION, aimed at one of its checks."""
        rng = self.rng
        ipa = 1 << self.ipa
        kind = rng.choice(
            ("new", "new", "new", "again", "again", "edge", "odd", "bad", "delete")
        )
        slot = rng.choice(_SLOT_IDS)
        base, size = rng.choice(_SLOT_BASES), rng.choice(_SLOT_SIZES)
        flags = rng.choice(_SLOT_FLAGS)
        if kind == "again" and self.slots:
            # The same slot once more: unchanged, moved, resized, or another
            # slot over its memory; its flags kept, or the log or read-only
            # bit flipped.
            slot = rng.choice(sorted(self.slots))
            old_base, old_size, old_flags = self.slots[slot]
            base, size = rng.choice(
                ((old_base, old_size), (base, old_size), (old_base, size))
            )
            flags = old_flags ^ rng.choice((0, 0, 1, 2))
            if rng.random() < 0.3:
                slot = rng.choice(_SLOT_IDS[:7])
        elif kind == "edge":
            base = rng.choice((ipa - size, ipa - size + 0x1000, ipa, ipa - 0x1000))
        elif kind == "odd":
            base, size = rng.choice(((base + 0x800, size), (base, size + 0x10)))
        elif kind == "bad":
            base, size = rng.choice(
                (((1 << 64) - 0x1000, 0x2000), (0x40000000, 1 << 43), (0, 0x1000))
            )
        elif kind == "delete":
            size = 0
            if self.slots and rng.random() < 0.7:
                slot = rng.choice(sorted(self.slots))
        if base < GUEST_IPA + GUEST_SIZE and base + size > GUEST_IPA:
            base = GUEST_IPA + GUEST_SIZE  # never over the executor's guest slot
        if size == 0:
            self.slots.pop(slot, None)
        else:
            self.slots[slot] = (base, size, flags)
        self.emit("set_user_memory_region", slot, base, size, flags)

    def vcpu_attr(self, vcpu_id: int) -> None:
        rng = self.rng
        group = rng.choice((0, 0, 0, 1, 1, 2, 2, 3))
        if group == u.KVM_ARM_VCPU_PMU_V3_CTRL:
            attr = rng.choice((0, 0, 1, 1, 2, 3, 4))
            if attr == u.KVM_ARM_VCPU_PMU_V3_FILTER:
                base, count = (
                    rng.choice((0, 0x10, 0x3FF, 0xFFFF)),
                    rng.choice((1, 16, 0x400)),
                )
                value: object = base | count << 16 | rng.choice((0, 1, 2)) << 32
            else:
                value = rng.choice(_PMU_IRQS)
        elif group == u.KVM_ARM_VCPU_TIMER_CTRL:
            attr, value = rng.choice((0, 0, 1, 1, 2)), rng.choice(_TIMER_IRQS)
        else:
            attr, value = rng.choice((0, 0, 0, 1)), rng.choice(_PVTIME)
        verb = rng.choice(("set", "set", "set", "get", "has"))
        if verb == "has":
            self.emit("vcpu_has_attr", vcpu_id, group, attr)
            return
        if attr == u.KVM_ARM_VCPU_PMU_V3_SET_PMU and verb == "set":
            verb = "get"  # the host PMU's perf type id is not a fixed number
        if rng.random() < 0.05:
            value = "NULL"
        self.emit(f"vcpu_{verb}_attr", vcpu_id, group, attr, value)

    def device_attr(self, handle: str) -> None:
        rng = self.rng
        group = rng.choice(
            (0, 0, 0, 0, 1, 1, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 7, 8, 8, 9, 10)
        )
        attr, value = self.attr_and_value(group)
        verb = rng.choice(("set", "set", "get", "get", "has"))
        if verb == "has":
            self.emit("has_attr", handle, group, attr)
            return
        if rng.random() < 0.05:
            value = "NULL"
        self.emit(f"{verb}_attr", handle, group, attr, value)

    def attr_and_value(self, group: int) -> tuple[int, object]:
        rng = self.rng
        if group == _GRP_ADDR:
            attr = rng.choice((0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6))
            if attr == 5:
                count = rng.choice((1, 2, 4, 0, 0xFFF))
                index = rng.choice((0, 0, 1, 2, 256))
                flags = 1 if rng.random() < 0.1 else 0
                return attr, redist_region_attr(
                    count, self.address() & ((1 << 52) - 1), flags, index
                )
            return attr, self.address()
        if group == c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS:
            return rng.choice((0, 0, 1)), rng.choice(_NR_IRQS)
        if group == _GRP_CTRL:
            return rng.choice((0, 0, 0, 1, 2, 3, 4, 4, 5)), 0
        if group in (
            c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
            c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
        ):
            offsets = _DIST_OFFSETS if group == 1 else _REDIST_OFFSETS
            return self.target() << 32 | rng.choice(offsets), rng.choice(_U32_VALUES)
        if group == c.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS:
            return self.target() << 32 | rng.choice(_SYSREGS), rng.choice(
                (0, 7, 0xF8, 0x8C00, 0x8C03, 1, 0x8D00)
            )
        if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
            intid = rng.choice((0, 32, 64, 96, 224, 256, 33, 992))
            info = 1 if rng.random() < 0.1 else 0
            return self.target() << 32 | info << 10 | intid, rng.choice(_U32_VALUES)
        if group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
            value = (
                rng.getrandbits(63)
                if rng.random() < 0.5
                else rng.choice((0, 1, 0x1000, 0xFFE0, 0x80))
            )
            return rng.choice(_ITS_OFFSETS), value
        return rng.choice((0, 1, 2)), rng.choice((0, 25))

    def target(self) -> int:
        rng = self.rng
        if not self.vcpus or rng.random() < 0.1:
            return rng.choice((0, 0x80000001, 0xFFFFFFFF))
        mpidr = reset_mpidr(rng.choice(self.vcpus))
        return v3_reg_attr(mpidr, 0) >> 32

    def address(self) -> int:
        rng = self.rng
        ipa = 1 << self.ipa
        return rng.choice(
            (
                _DIST_BASE,
                _REDIST_BASE,
                _ITS_BASE,
                0x8010000,
                0x8090000,
                0x9000000,
                0x8001000,
                0x8000100,
                0x10000000,
                0x80000000,
                ipa - 0x10000,
                ipa - 0x20000,
                ipa - 0x40000,
                ipa,
                ipa + 0x10000,
                (1 << 64) - 0x10000,
                0,
            )
        )


def _show(field: object) -> str:
    if isinstance(field, int):
        return str(field) if field < 10 else f"0x{field:x}"
    return str(field)
