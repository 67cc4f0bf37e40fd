"""What ``virtmodel dtb`` and ``virtmodel dts`` do with a ``virt`` config.

``dtb`` writes the blob QEMU's ``dumpdtb`` would write (1 MiB, padded; with
``-dtb`` the user's blob as QEMU edits it, in its buffer), or a packed one for
handing to a kernel; the write is atomic. ``dts`` returns the source text,
formatted like ``dtc -I dtb -O dts``. Both fill in the initrd's place when the
config names one, as QEMU's loader does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from virtmodel.machine.boards.virt.tree import build_virt_fdt, virt_peripherals
from virtmodel.machine.boards.virt.userdtb import load_user_dtb
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.files import write_atomic

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.fdt import Fdt, FdtBlob

__all__ = ["build_virt_dtb", "cmd_dtb", "cmd_dts", "initrd_placement"]

_MiB: Final = 1 << 20
_PAGE: Final = 0x1000


def initrd_placement(config: VirtConfig) -> tuple[int, int] | None:
    """Return ``(start, size)`` of the config's initrd as QEMU places it, or None.

    None without an initrd, and with firmware (``-bios``), which loads it.

    QEMU loads it at RAM base + min(RAM / 2, 128 MiB), page-aligned, and moves
    it past the kernel when they would overlap; this model leaves that last
    step out (it matters only for kernels larger than that offset).

    Raises:
        ConfigError: The initrd file cannot be read.
    """
    if config.initrd is None:
        return None
    try:
        size = Path(config.initrd).stat().st_size
    except OSError as exc:
        option, msg = "initrd", f"cannot read {config.initrd!r}: {exc.strerror}"
        raise ConfigError(option, config.initrd, msg) from exc
    if config.has_firmware:
        # With -bios the firmware gets the initrd through fw_cfg; QEMU writes
        # no initrd range into /chosen (the boot arguments it still writes).
        return None
    start = config.memmap["mem"].base + min(config.ram_size // 2, 128 * _MiB)
    start = -(-start // _PAGE) * _PAGE
    return start, size


def build_virt_dtb(config: VirtConfig, seed: int | None = None) -> Fdt | FdtBlob:
    """Return the device tree for *config*, initrd placement included.

    With ``-dtb`` that is the user's blob as QEMU edits it; either way
    ``to_dtb()`` gives what ``dumpdtb`` writes and ``to_dtb(None)`` packs it.

    Raises:
        ConfigError: The config's initrd or ``-dtb`` blob cannot be read, or
            the blob cannot take the machine's memory nodes.
    """
    initrd = initrd_placement(config)
    if config.dtb is not None:
        psci = virt_peripherals(config).psci
        return load_user_dtb(config, initrd=initrd, psci=psci)
    return build_virt_fdt(config, seed=seed, initrd=initrd)


def cmd_dtb(
    config: VirtConfig, out: Path, seed: int | None = None, *, packed: bool = False
) -> None:
    """Write the DTB for *config* to *out* atomically (``virtmodel dtb -o FILE``).

    The default is QEMU's 1 MiB ``dumpdtb`` image; ``packed=True`` writes it
    trimmed to its real size, which is what ``-dtb`` wants.

    Raises:
        ConfigError: The config's initrd cannot be read.
        OSError: *out* cannot be written (no partial file is left).
    """
    fdt = build_virt_dtb(config, seed)
    write_atomic(out, fdt.to_dtb(None) if packed else fdt.to_dtb())


def cmd_dts(config: VirtConfig, seed: int | None = None) -> str:
    """Return the device tree source for *config* (``virtmodel dts``).

    Raises:
        ConfigError: The config's initrd cannot be read.
    """
    return build_virt_dtb(config, seed).to_dts()
