"""Boot a real arm64 kernel under ``qemu-system-aarch64`` on the machine we modelled.

:func:`boot` starts QEMU with the machine's own options and ``-dtb`` pointing
at virtmodel's device tree, streams the PL011 console, and stops at power-off,
at an expected console line, or at a timeout; QEMU's process group never
outlives the call (see :mod:`virtmodel.machine.qemu.process`).

Facts the design relies on (QEMU 7.2 and Debian's 6.1 arm64 kernel, measured):

- With ``-dtb`` QEMU still edits the blob it loads: it replaces every
  ``/memory*`` node with one sized by ``-m``, adds ``/psci`` for the conduit it
  chose, writes ``/chosen`` ``linux,initrd-start``/``-end``, and sets
  ``bootargs`` only when ``-append`` is non-empty (else the blob's own
  ``bootargs`` survive). Everything else reaches the guest as we wrote it.
- QEMU grows a loaded DTB to ``2 * (file size + 10000)`` bytes, and the arm64
  kernel refuses a DTB larger than 2 MiB before its first console line. See
  :func:`pack_fdt`.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, TextIO

from virtmodel.machine.errors import MachineError
from virtmodel.machine.fdt.format import (
    FDT_END,
    FDT_MAGIC,
    HEADER,
    FdtError,
    read_header,
)
from virtmodel.machine.qemu.process import BootResult, run_console

__all__ = [
    "MAX_DTB_FILE_SIZE",
    "BootError",
    "BootResult",
    "QemuConfig",
    "QemuMachine",
    "boot",
    "check_kernel",
    "pack_fdt",
    "qemu_command",
]

_RSV_ENTRY: Final = 16
_IMAGE_MAGIC_OFFSET: Final = 0x38
_IMAGE_MAGIC: Final = b"ARM\x64"
_AARCH32_CPUS: Final = frozenset({"cortex-a7", "cortex-a15"})
#: Options :func:`boot` supplies itself; a config that carries them is refused
#: unless it agrees (nothing the user gave is silently replaced).
_BOOT_OPTIONS: Final = ("-kernel", "-initrd", "-append")
_FORBIDDEN_OPTIONS: Final = ("-dtb", "-bios", "-serial", "-nographic")

#: Largest DTB file that boots: QEMU loads it into ``2 * (size + 10000)``
#: bytes and Linux/arm64 rejects a DTB over 2 MiB (measured: 1,030,000 bytes
#: boot, 1,045,000 hang with no output).
MAX_DTB_FILE_SIZE: Final = (2 * 1024 * 1024) // 2 - 10000


class BootError(MachineError, RuntimeError):
    """The guest could not be started, or QEMU failed; ``.reason`` says why.

    ``.qemu_status`` is QEMU's exit status when QEMU ran and failed, and None
    when the boot was refused before QEMU started (bad input or setup).
    """

    def __init__(self, reason: str, *, qemu_status: int | None = None) -> None:
        self.reason = reason
        self.qemu_status = qemu_status
        super().__init__(reason)


class QemuConfig(Protocol):
    """What :func:`boot` needs from a machine config (``VirtConfig`` has it)."""

    @property
    def is_armv8(self) -> bool:
        """Whether the CPU is 64-bit capable, so an arm64 Image can run."""
        ...

    def to_qemu_args(self) -> list[str]:
        """Return the QEMU arguments that build this machine (no ``dumpdtb``)."""
        ...


@dataclass(frozen=True, slots=True)
class QemuMachine:
    """Machine options in QEMU's own spelling, for callers without a ``VirtConfig``.

    Example:
        >>> config = QemuMachine("virt,gic-version=3", cpu="cortex-a57", smp="4")
        >>> " ".join(config.to_qemu_args())
        '-M virt,gic-version=3 -cpu cortex-a57 -smp 4 -m 128M -accel tcg'
    """

    #: The ``-M`` string, e.g. ``"virt,gic-version=3,its=on"``.
    machine: str = "virt"
    cpu: str = "cortex-a15"
    smp: str = "1"
    memory: str = "128M"
    accel: str = "tcg"

    @property
    def is_armv8(self) -> bool:
        """Whether the CPU is 64-bit capable (every virt CPU but a7 and a15)."""
        return self.cpu not in _AARCH32_CPUS

    def to_qemu_args(self) -> list[str]:
        """Return the QEMU arguments that select this machine."""
        pairs = (
            ("-M", self.machine),
            ("-cpu", self.cpu),
            ("-smp", self.smp),
            ("-m", self.memory),
            ("-accel", self.accel),
        )
        return [item for pair in pairs for item in pair]


def check_kernel(kernel: Path) -> None:
    """Check that *kernel* is an arm64 ``Image`` QEMU 7.2 can boot with ``-kernel``.

    A gzip'd Image is accepted (QEMU decompresses it); an EFI zboot image is not.

    Raises:
        BootError: The file is missing, unreadable, or not an arm64 Image.
    """
    try:
        with kernel.open("rb") as file:
            head = file.read(_IMAGE_MAGIC_OFFSET + 4)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(kernel, "rb") as unzipped:
                head = unzipped.read(_IMAGE_MAGIC_OFFSET + 4)
    except (OSError, EOFError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        msg = f"kernel {str(kernel)!r} cannot be read: {detail}"
        raise BootError(msg) from exc
    if head[:2] == b"MZ" and head[4:8] == b"zimg":
        msg = (
            f"kernel {str(kernel)!r} is an EFI zboot image, which qemu 7.2 cannot load"
        )
        raise BootError(msg)
    if head[_IMAGE_MAGIC_OFFSET:] != _IMAGE_MAGIC:
        offset = f"0x{_IMAGE_MAGIC_OFFSET:08x}"
        msg = (
            f"kernel {str(kernel)!r} is not an arm64 Image (no 'ARM\\x64' at {offset})"
        )
        raise BootError(msg)


def pack_fdt(blob: bytes) -> bytes:
    """Return *blob* laid out again without free space: ``totalsize`` = real size.

    QEMU's ``dumpdtb`` (and our byte-identical writer) pad the tree to 1 MiB.
    Handed back with ``-dtb``, QEMU loads it into ``2 * (1 MiB + 10000)`` bytes,
    over the arm64 kernel's 2 MiB limit, and the kernel hangs before printing
    anything. Packed, the tree is a few KiB, as ``dtc`` would write it. This
    works on the bytes alone, so no ``dtc`` is needed at run time.

    Raises:
        BootError: *blob* is not a flattened device tree of version 17 or later,
            or one of its blocks lies outside it.
    """
    try:
        found = read_header(blob, min_version=17)
    except FdtError as exc:
        msg = f"dtb: {exc.problem}"
        raise BootError(msg) from exc
    limit = min(found.totalsize, len(blob))
    off_rsvmap, boot_cpu = found.off_mem_rsvmap, found.boot_cpuid_phys
    off_struct, size_struct = found.off_dt_struct, found.size_dt_struct
    off_strings, size_strings = found.off_dt_strings, found.size_dt_strings
    rsv_end = off_rsvmap + _RSV_ENTRY
    while blob[rsv_end - _RSV_ENTRY : rsv_end] != bytes(_RSV_ENTRY):
        if rsv_end >= limit:
            msg = f"dtb reservation map at 0x{off_rsvmap:08x} has no terminating entry"
            raise BootError(msg)
        rsv_end += _RSV_ENTRY
    structure = blob[off_struct : off_struct + size_struct]
    if size_struct % 4 or structure[-4:] != FDT_END.to_bytes(4, "big"):
        msg = "dtb struct block does not end with the FDT_END token"
        raise BootError(msg)
    rsvmap = blob[off_rsvmap:rsv_end]
    new_struct = HEADER.size + len(rsvmap)
    new_strings = new_struct + size_struct
    header = HEADER.pack(
        FDT_MAGIC,
        new_strings + size_strings,
        new_struct,
        new_strings,
        HEADER.size,
        17,
        16,
        boot_cpu,
        size_strings,
        size_struct,
    )
    return header + rsvmap + structure + blob[off_strings : off_strings + size_strings]


def _option_value(args: list[str], option: str) -> str | None:
    return args[args.index(option) + 1] if option in args[:-1] else None


def _same(option: str, given: str, wanted: str | None) -> bool:
    # File options name the same file however they are spelt ("./Image").
    if wanted is None or option == "-append":
        return given == wanted
    return Path(given).resolve() == Path(wanted).resolve()


def qemu_command(
    config: QemuConfig,
    *,
    qemu: str,
    dtb: Path,
    kernel: Path,
    append: str | None = None,
    initrd: Path | None = None,
) -> list[str]:
    """Return the QEMU command line that boots *kernel* on *config* with *dtb*.

    Raises:
        BootError: The config's own arguments carry ``-dtb``, ``-bios``, a
            console option, or a ``-kernel``/``-initrd``/``-append`` that
            differs from the one given here.
    """
    machine = config.to_qemu_args()
    wanted: dict[str, str | None] = {
        "-kernel": str(kernel),
        "-initrd": None if initrd is None else str(initrd),
        "-append": append,
    }
    for option in _FORBIDDEN_OPTIONS:
        if option in machine:
            msg = f"machine arguments carry {option!r}, which boot supplies itself"
            raise BootError(msg)
    for option in _BOOT_OPTIONS:
        given = _option_value(machine, option)
        if given is not None and not _same(option, given, wanted[option]):
            msg = (
                f"machine arguments say {option} {given!r}, "
                f"but boot was given {wanted[option]!r}"
            )
            raise BootError(msg)
        if given is not None:
            index = machine.index(option)
            del machine[index : index + 2]
    command = [
        qemu,
        *machine,
        # No default devices, no window: the PL011 is our stdout.
        "-nodefaults",
        "-nographic",
        "-serial",
        "stdio",
        # A guest reboot or panic ends QEMU instead of looping.
        "-no-reboot",
        "-dtb",
        str(dtb),
    ]
    for option in _BOOT_OPTIONS:
        value = wanted[option]
        if value is not None:
            command += [option, value]
    return command


def _check_inputs(config: QemuConfig, kernel: Path, initrd: Path | None) -> None:
    if not config.is_armv8:
        cpu = _option_value(config.to_qemu_args(), "-cpu") or "cortex-a15"
        msg = (
            f"cpu {cpu!r} is 32-bit and cannot run an arm64 Image; try -cpu cortex-a57"
        )
        raise BootError(msg)
    check_kernel(kernel)
    if initrd is not None and not initrd.is_file():
        msg = f"initrd {str(initrd)!r} does not exist or is not a file"
        raise BootError(msg)


def boot(
    config: QemuConfig,
    *,
    dtb: bytes,
    kernel: Path,
    append: str | None = None,
    initrd: Path | None = None,
    timeout: float = 60.0,
    console: TextIO | None = None,
    qemu: str = "qemu-system-aarch64",
    expect: str | None = None,
    tick: Callable[[float], object] | None = None,
) -> BootResult:
    """Boot *kernel* on *config* with device tree *dtb* and wait for it to end.

    The console streams to *console* as it arrives. The boot ends when QEMU
    exits (the guest powered off; ``-no-reboot`` turns a reboot into an exit),
    when *expect* appears on the console, or after *timeout* seconds (then
    ``result.timed_out`` is set). QEMU's process group is gone when this
    returns or raises.

    Raises:
        BootError: *timeout* is not positive; QEMU is missing; the CPU is
            32-bit; the kernel, initrd or dtb is unusable; or QEMU exited with
            a non-zero status (the reason quotes its last message).
    """
    if not timeout > 0:
        msg = f"timeout {timeout!r} must be a positive number of seconds"
        raise BootError(msg)
    executable = shutil.which(qemu)
    if executable is None:
        msg = f"qemu {qemu!r} is not installed (Debian package 'qemu-system-arm')"
        raise BootError(msg)
    _check_inputs(config, kernel, initrd)
    packed = pack_fdt(dtb)
    if len(packed) > MAX_DTB_FILE_SIZE:
        msg = (
            f"dtb is {len(packed)} bytes packed, over the {MAX_DTB_FILE_SIZE} "
            "that QEMU's load and the arm64 kernel's 2 MiB limit allow"
        )
        raise BootError(msg)
    with tempfile.TemporaryDirectory(prefix="virtmodel-boot-") as tmp:
        dtb_path = Path(tmp) / "virt.dtb"
        dtb_path.write_bytes(packed)
        command = qemu_command(
            config,
            qemu=executable,
            dtb=dtb_path,
            kernel=kernel,
            append=append,
            initrd=initrd,
        )
        try:
            result = run_console(
                command, timeout=timeout, console=console, expect=expect, tick=tick
            )
        except OSError as exc:
            msg = f"qemu {executable!r} could not be started: {exc.strerror or exc}"
            raise BootError(msg) from exc
    if result.exit_status not in (0, None):
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else "no message"
        msg = f"qemu exited with status {result.exit_status}: {last}"
        raise BootError(msg, qemu_status=result.exit_status)
    return result
