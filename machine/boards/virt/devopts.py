"""``-device`` types that change the ``virt`` device tree, read as QEMU 7.2 does.

Two are modelled:

- ``virtio-iommu-pci``: a paravirtual IOMMU on the root PCIe bus. The board
  gives it a node under the PCIe host (``virtio_iommu@SLOT,FN``, the next
  phandle) and an ``iommu-map`` that sends every requester ID but the IOMMU's
  own through it (none with ``default-bus-bypass-iommu=on``). One IOMMU per
  machine: not with ``iommu=smmuv3``, not twice.
- ``guest-loader``: a blob (kernel or initrd) loaded at ``addr`` for a
  hypervisor, described as ``/chosen/module@<addr>`` with its size.

Others are refused by name; ``-device help`` lists these two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import parse_int, suggest

#: ``-device`` types modelled -> (bus, what it is), for ``-device help``.
DEVICE_TYPES: Final = {
    "guest-loader": ("System", "a blob for a hypervisor's guest, in /chosen"),
    "virtio-iommu-pci": ("PCI", "paravirtual IOMMU on the root PCIe bus"),
}
_IOMMU_KEYS: Final = ("driver", "addr", "id", "bus")
_LOADER_KEYS: Final = ("driver", "addr", "kernel", "initrd", "bootargs", "id")
_PCI_ADDR: Final = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,8})(?:\.([0-7]))?")
#: Devfn of the host bridge's own function (gpex-root, slot 0).
HOST_BRIDGE_DEVFN: Final = 0


@dataclass(frozen=True, slots=True)
class GuestLoader:
    """One ``-device guest-loader``: what is loaded where."""

    addr: int
    kind: Literal["kernel", "ramdisk"]
    path: str
    size: int
    bootargs: str | None = None


def _refuse_keys(driver: str, keys: dict[str, str], allowed: tuple[str, ...]) -> None:
    for key in keys:
        if key not in allowed:
            msg = f"{driver} has no property {key!r}{suggest(key, allowed)}"
            raise ConfigError(option=f"device.{key}", value=keys[key], problem=msg)


def iommu_devfn(keys: dict[str, str]) -> int:
    """Return the devfn of a ``virtio-iommu-pci`` (``addr=SLOT[.FN]``, hex).

    Without ``addr`` it takes slot 1, the first one the host bridge leaves.

    Raises:
        ConfigError: An unknown property, a malformed address, another bus,
            or the host bridge's own slot.
    """
    _refuse_keys("virtio-iommu-pci", keys, _IOMMU_KEYS)
    if keys.get("bus", "pcie.0") != "pcie.0":
        msg = f"bus {keys['bus']!r} does not exist; the root bus is pcie.0"
        raise ConfigError(option="device.bus", value=keys["bus"], problem=msg)
    raw = keys.get("addr")
    if raw is None:
        return 1 << 3
    match = _PCI_ADDR.fullmatch(raw)
    slot = int(match.group(1), 16) if match else 32
    if match is None or slot > 31:
        msg = f"addr={raw!r} is not SLOT[.FUNCTION] (slot 0-1f hex, function 0-7)"
        raise ConfigError(option="device.addr", value=raw, problem=msg)
    devfn = slot << 3 | int(match.group(2) or 0)
    if devfn == HOST_BRIDGE_DEVFN:
        msg = "PCI slot 0 function 0 is the host bridge's (gpex-root)"
        raise ConfigError(option="device.addr", value=raw, problem=msg)
    return devfn


def guest_loader(keys: dict[str, str]) -> GuestLoader:
    """Return the ``guest-loader`` *keys* describe, its file measured.

    Raises:
        ConfigError: No ``addr``, neither or both of ``kernel``/``initrd``,
            ``bootargs`` with an initrd, or a file that cannot be read.
    """
    _refuse_keys("guest-loader", keys, _LOADER_KEYS)
    if "addr" not in keys:
        msg = "guest-loader needs addr=ADDRESS (where the blob is loaded)"
        raise ConfigError(option="device.addr", value=None, problem=msg)
    addr = parse_int("device.addr", keys["addr"])
    kernel, initrd = keys.get("kernel"), keys.get("initrd")
    if (kernel is None) == (initrd is None):
        msg = "guest-loader takes exactly one of kernel= or initrd="
        raise ConfigError(option="device", value="guest-loader", problem=msg)
    if initrd is not None and "bootargs" in keys:
        msg = "bootargs= belongs to a kernel blob, not an initrd"
        raise ConfigError(option="device.bootargs", value=keys["bootargs"], problem=msg)
    path = kernel if kernel is not None else initrd
    assert path is not None
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        msg = f"cannot read {path!r}: {exc.strerror}"
        raise ConfigError(option="device", value=path, problem=msg) from exc
    kind: Literal["kernel", "ramdisk"] = "kernel" if kernel is not None else "ramdisk"
    return GuestLoader(addr, kind, path, size, keys.get("bootargs"))


def format_iommu(devfn: int) -> str:
    """Return the ``-device`` text for a virtio-iommu at *devfn*."""
    return f"virtio-iommu-pci,addr={devfn >> 3:x}.{devfn & 7:x}"


def format_loader(loader: GuestLoader) -> str:
    """Return the ``-device`` text for *loader*."""
    key = "kernel" if loader.kind == "kernel" else "initrd"
    text = f"guest-loader,addr=0x{loader.addr:x},{key}={loader.path.replace(',', ',,')}"
    if loader.bootargs is not None:
        text += f",bootargs={loader.bootargs.replace(',', ',,')}"
    return text
