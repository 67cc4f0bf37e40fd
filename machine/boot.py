"""Boot a real arm64 kernel under ``qemu-system-aarch64`` on the machine we modelled.

:func:`boot` starts QEMU with the same machine options and ``-dtb`` pointing at
virtmodel's device tree, streams the PL011 console, and stops at power-off, at
an expected console line, or at a timeout. Invariant: the QEMU process runs in
its own session and its whole process group is killed before :func:`boot`
returns or raises, whatever happened.

Facts the design relies on (QEMU 7.2, Debian's 6.1 arm64 kernel, measured):

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

import codecs
import contextlib
import gzip
import os
import selectors
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, TextIO

__all__ = [
    "MAX_DTB_FILE_SIZE",
    "BootError",
    "BootResult",
    "QemuMachine",
    "boot",
    "check_kernel",
    "pack_fdt",
    "qemu_command",
]

_FDT_MAGIC: Final = 0xD00DFEED
_FDT_END: Final = 9
_FDT_HEADER: Final = struct.Struct(">10I")
_IMAGE_MAGIC_OFFSET: Final = 0x38
_IMAGE_MAGIC: Final = b"ARM\x64"
#: 32-bit CPUs of the virt board: an arm64 Image hangs silently on them.
_AARCH32_CPUS: Final = frozenset({"cortex-a7", "cortex-a15"})

#: Largest DTB file that boots: QEMU loads it into ``2 * (size + 10000)``
#: bytes and Linux/arm64 rejects a DTB over 2 MiB (measured: 1,030,000 bytes
#: boot, 1,045,000 hang with no output).
MAX_DTB_FILE_SIZE: Final = (2 * 1024 * 1024) // 2 - 10000


class BootError(RuntimeError):
    """The guest could not be started, or QEMU failed; ``.reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class QemuMachine:
    """The machine options :func:`boot` hands to QEMU, in QEMU's own spelling.

    Example:
        >>> config = QemuMachine("virt,gic-version=3", cpu="cortex-a57", smp="4")
        >>> " ".join(config.qemu_args())
        '-M virt,gic-version=3 -cpu cortex-a57 -smp 4 -m 128M -accel tcg'
    """

    #: The ``-M`` string, e.g. ``"virt,gic-version=3,its=on"``.
    machine: str = "virt"
    cpu: str = "cortex-a15"
    smp: str = "1"
    memory: str = "128M"
    accel: str = "tcg"

    def qemu_args(self) -> list[str]:
        """Return the QEMU arguments that select this machine."""
        return [
            "-M",
            self.machine,
            "-cpu",
            self.cpu,
            "-smp",
            self.smp,
            "-m",
            self.memory,
            "-accel",
            self.accel,
        ]


@dataclass(frozen=True, slots=True)
class BootResult:
    """How a boot ended: QEMU's exit status, the console text and the reason."""

    #: QEMU's exit status, or None when :func:`boot` stopped it.
    exit_status: int | None
    #: Everything the guest printed on the serial console (``\\r`` removed).
    console: str
    #: QEMU's own messages (its stderr).
    stderr: str
    #: The guest did not finish before the timeout.
    timed_out: bool
    #: One line: why the boot ended.
    reason: str
    #: The full QEMU command line that ran.
    command: tuple[str, ...]
    #: QEMU's process id, which was also its process-group id.
    pid: int
    #: The text :func:`boot` waited for, if any.
    expect: str | None = None
    #: The ``expect`` text appeared on the console.
    matched: bool = False

    @property
    def ok(self) -> bool:
        """Whether the guest finished as asked: printed ``expect``, or powered off."""
        if self.expect is not None:
            return self.matched
        return not self.timed_out and self.exit_status == 0


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
            f"kernel {str(kernel)!r} is an EFI zboot image, which qemu 7.2 "
            "cannot load; extract the Image inside it"
        )
        raise BootError(msg)
    if head[_IMAGE_MAGIC_OFFSET:] != _IMAGE_MAGIC:
        msg = (
            f"kernel {str(kernel)!r} is not an arm64 Image "
            f"(no 'ARM\\x64' magic at 0x{_IMAGE_MAGIC_OFFSET:08x})"
        )
        raise BootError(msg)


def pack_fdt(blob: bytes) -> bytes:
    """Return *blob* re-laid out without free space: ``totalsize`` = real size.

    QEMU's ``dumpdtb`` (and our byte-identical writer) pad the tree to 1 MiB.
    Handed back with ``-dtb``, QEMU loads it into ``2 * (1 MiB + 10000)`` bytes,
    over the arm64 kernel's 2 MiB limit, and the kernel hangs before printing
    anything. Packed, the tree is a few KiB, as ``dtc`` would write it. This
    works on the blob itself, so no ``dtc`` is needed at run time.

    Raises:
        BootError: *blob* is not a flattened device tree of version 17 or later,
            or one of its blocks lies outside it.
    """
    if len(blob) < _FDT_HEADER.size:
        msg = f"dtb is {len(blob)} bytes, shorter than an fdt header"
        raise BootError(msg)
    (
        magic,
        totalsize,
        off_struct,
        off_strings,
        off_rsvmap,
        version,
        _last,
        boot_cpu,
        size_strings,
        size_struct,
    ) = _FDT_HEADER.unpack_from(blob)
    if magic != _FDT_MAGIC:
        msg = f"dtb has magic 0x{magic:08x}, not 0x{_FDT_MAGIC:08x}"
        raise BootError(msg)
    if version < 17:
        msg = f"dtb is fdt version {version}; version 17 or later is needed"
        raise BootError(msg)
    rsv_end = off_rsvmap
    while True:
        if rsv_end + 16 > min(totalsize, len(blob)):
            msg = f"dtb memory reservation map at 0x{off_rsvmap:08x} is not terminated"
            raise BootError(msg)
        rsv_end += 16
        if blob[rsv_end - 16 : rsv_end] == bytes(16):
            break
    for name, start, size in (
        ("struct", off_struct, size_struct),
        ("strings", off_strings, size_strings),
    ):
        if start + size > min(totalsize, len(blob)):
            msg = (
                f"dtb {name} block [0x{start:08x}, 0x{start + size:08x}) lies "
                f"outside the blob of 0x{min(totalsize, len(blob)):08x} bytes"
            )
            raise BootError(msg)
    structure = blob[off_struct : off_struct + size_struct]
    if size_struct % 4 or structure[-4:] != _FDT_END.to_bytes(4, "big"):
        msg = "dtb struct block does not end with the FDT_END token"
        raise BootError(msg)
    rsvmap = blob[off_rsvmap:rsv_end]
    new_struct = _FDT_HEADER.size + len(rsvmap)
    new_strings = new_struct + size_struct
    total = new_strings + size_strings
    header = _FDT_HEADER.pack(
        _FDT_MAGIC,
        total,
        new_struct,
        new_strings,
        _FDT_HEADER.size,
        17,
        16,
        boot_cpu,
        size_strings,
        size_struct,
    )
    return header + rsvmap + structure + blob[off_strings : off_strings + size_strings]


def qemu_command(
    config: QemuMachine,
    *,
    qemu: str,
    dtb: Path,
    kernel: Path,
    append: str | None = None,
    initrd: Path | None = None,
) -> list[str]:
    """Return the QEMU command line that boots *kernel* on *config* with *dtb*."""
    command = [
        qemu,
        *config.qemu_args(),
        # No default devices, no window, the PL011 on our stdout.
        "-nodefaults",
        "-nographic",
        "-serial",
        "stdio",
        # A guest reboot or panic ends QEMU instead of looping.
        "-no-reboot",
        "-kernel",
        str(kernel),
        "-dtb",
        str(dtb),
    ]
    if initrd is not None:
        command += ["-initrd", str(initrd)]
    if append is not None:
        command += ["-append", append]
    return command


def _find_qemu(qemu: str) -> str:
    found = shutil.which(qemu)
    if found is None:
        msg = f"qemu {qemu!r} is not installed (Debian package 'qemu-system-arm')"
        raise BootError(msg)
    return found


def _check_inputs(config: QemuMachine, kernel: Path, initrd: Path | None) -> None:
    if config.cpu in _AARCH32_CPUS:
        msg = (
            f"cpu {config.cpu!r} is 32-bit and cannot run an arm64 Image; "
            "pick one with -cpu cortex-a57"
        )
        raise BootError(msg)
    check_kernel(kernel)
    if initrd is not None and not initrd.is_file():
        msg = f"initrd {str(initrd)!r} does not exist or is not a file"
        raise BootError(msg)


def boot(
    config: QemuMachine,
    *,
    dtb: bytes,
    kernel: Path,
    append: str | None = None,
    initrd: Path | None = None,
    timeout: float = 60.0,
    console: TextIO | None = None,
    qemu: str = "qemu-system-aarch64",
    expect: str | None = None,
) -> BootResult:
    """Boot *kernel* on *config* with device tree *dtb* and wait for it to end.

    The console streams to *console* as it arrives. The boot ends when QEMU
    exits (the guest powered off; ``-no-reboot`` turns a reboot into an exit),
    when *expect* appears on the console, or after *timeout* seconds. QEMU's
    process group is killed before this returns, in every case.

    Raises:
        BootError: QEMU is missing; the CPU is 32-bit; the kernel, initrd or
            dtb is unusable; or QEMU exited with a non-zero status (the reason
            quotes its last message).
    """
    executable = _find_qemu(qemu)
    _check_inputs(config, kernel, initrd)
    packed = pack_fdt(dtb)
    if len(packed) > MAX_DTB_FILE_SIZE:
        msg = (
            f"dtb is {len(packed)} bytes packed; QEMU doubles it on load and "
            f"Linux/arm64 accepts at most 2 MiB, so the limit is {MAX_DTB_FILE_SIZE}"
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
        result = _run(command, timeout=timeout, console=console, expect=expect)
    if result.exit_status not in (0, None):
        last = next(
            (ln for ln in reversed(result.stderr.splitlines()) if ln.strip()),
            "no message",
        )
        msg = f"qemu exited with status {result.exit_status}: {last.strip()}"
        raise BootError(msg)
    return result


def _kill_group(pgid: int, sig: int) -> None:
    # The group outlives its leader while any child is alive, so this is also
    # how stragglers QEMU spawned (helpers, a wrapper's children) are reaped.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        _kill_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)
            process.wait()
    _kill_group(process.pid, signal.SIGKILL)


def _run(
    command: list[str], *, timeout: float, console: TextIO | None, expect: str | None
) -> BootResult:
    deadline = time.monotonic() + timeout
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out: list[str] = []
    err = bytearray()
    carry = ""
    matched = timed_out = False
    # stdin is /dev/null so QEMU never puts the user's terminal in raw mode,
    # which a killed QEMU could not undo.
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            streams: list[IO[bytes] | None] = [process.stdout, process.stderr]
            for stream in streams:
                assert stream is not None
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map() and not matched:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(min(remaining, 0.25)):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is process.stderr:
                        err += chunk
                    else:
                        text = decoder.decode(chunk).replace("\r", "")
                        out.append(text)
                        if console is not None:
                            console.write(text)
                            console.flush()
                        if expect:
                            window = carry + text
                            matched = expect in window
                            carry = window[len(window) - len(expect) + 1 :]
                if process.poll() is not None:
                    # Close the pipes held by any straggler so reads reach EOF.
                    _kill_group(process.pid, signal.SIGKILL)
    finally:
        _stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    status = None if matched or timed_out else process.returncode
    if timed_out:
        reason = f"guest did not finish within {timeout:g} s; qemu was stopped"
    elif matched:
        reason = f"console showed {expect!r}; qemu was stopped"
    elif expect is not None and status == 0:
        reason = f"qemu exited before the console showed {expect!r}"
    elif status == 0:
        reason = "guest powered off (qemu exited with status 0)"
    else:
        reason = f"qemu exited with status {status}"
    return BootResult(
        exit_status=status,
        console="".join(out),
        stderr=err.decode(errors="replace"),
        timed_out=timed_out,
        reason=reason,
        command=tuple(command),
        pid=process.pid,
        expect=expect,
        matched=matched,
    )
