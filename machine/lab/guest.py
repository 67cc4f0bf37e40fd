"""Boot the lab's arm64 guest (a real KVM under TCG) once for a batch of jobs.

The guest is Debian's arm64 kernel under ``qemu-system-aarch64 -M
virt,virtualization=on`` (TCG emulates EL2, so the guest kernel brings KVM
up) with a busybox initramfs. A job is a shell fragment plus the files it
needs; its output comes back on the serial console framed by marker lines
that carry a per-boot nonce::

    @@LAB <nonce> BEGIN <section>
    <nonce>|<one line of output>
    @@LAB <nonce> END <section> <exit-status> <line-count>
    @@LAB <nonce> DONE

Kernel messages that slip in (the kernel runs with ``quiet loglevel=1``) are
ignored because they lack the prefix; a lost or mangled line is caught by the
count. A guest that hangs or crashes ends at the timeout, or when QEMU exits
(``panic=-1 -no-reboot``), with a :class:`~virtmodel.machine.lab.paths.LabError` that
says how it ended and carries the console. QEMU runs under
:func:`virtmodel.machine.qemu.process.run_console`: its own session, killed as a group.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from virtmodel.machine.lab.paths import LabError, LabPaths
from virtmodel.machine.qemu.initramfs import (
    CpioEntry,
    char_device,
    directory,
    newc_archive,
    regular_file,
)
from virtmodel.machine.qemu.process import BootResult, run_console

__all__ = [
    "GUEST_QEMU",
    "GuestJob",
    "GuestRun",
    "boot_guest",
    "guest_command",
    "shell_quote",
]

#: The host QEMU; ``VIRTMODEL_LAB_QEMU`` overrides it (tests use stand-ins).
GUEST_QEMU: Final = "qemu-system-aarch64"
_APPEND: Final = "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=1"

#: The guest's /init: mount what KVM and the jobs need, define ``section``,
#: run the job, say DONE. ``@NONCE@`` is replaced per boot.
_INIT: Final = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
N=@NONCE@
# section NAME COMMAND...: run COMMAND, frame its stdout+stderr.
# (Its variables start with an underscore: sh has no locals, and a job's
# own $name or $status must survive a call.)
section() {
    _section=$1; shift
    "$@" >/tmp/section.out 2>&1
    _status=$?
    echo "@@LAB $N BEGIN $_section"
    sed "s/^/$N|/" /tmp/section.out
    echo "@@LAB $N END $_section $_status $(wc -l </tmp/section.out)"
}
echo "@@LAB $N READY"
cd /lab && . /lab/job.sh
echo "@@LAB $N DONE"
poweroff -f
"""


@dataclass(frozen=True, slots=True)
class GuestJob:
    """What one boot runs: a shell fragment and the files it reads."""

    #: Shell run by /init in /lab; it calls ``section NAME CMD...``.
    script: str
    #: Extra files: path under /lab -> (contents, mode).
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    #: Add the arm64 QEMU closure (about 55 MB) to the initramfs.
    with_qemu: bool = False
    #: More newc archives for the initramfs, unpacked before the job's own
    #: (a file on the host, or the archive's bytes).
    archives: tuple[Path | bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class GuestRun:
    """The sections a finished guest printed, and how its boot went."""

    #: Section name -> (exit status, output lines), in the order printed.
    sections: dict[str, tuple[int, list[str]]]
    #: The whole boot, console included.
    boot: BootResult


def guest_command(paths: LabPaths, initrd: Path, qemu: str | None = None) -> list[str]:
    """Return the host QEMU command line that boots the guest on *initrd*."""
    program = qemu or os.environ.get("VIRTMODEL_LAB_QEMU") or GUEST_QEMU
    return [
        program,
        "-M", "virt,virtualization=on,gic-version=3",
        "-cpu", "max",
        "-smp", "2",
        "-m", "2G",
        "-nographic",
        "-no-reboot",
        "-nic", "none",
        "-kernel", str(paths.image),
        "-initrd", str(initrd),
        "-append", _APPEND,
    ]  # fmt: skip


def _job_archive(paths: LabPaths, job: GuestJob, nonce: str) -> bytes:
    paths.require(paths.busybox, paths.kvmexec)
    entries: list[CpioEntry] = [
        directory("bin"),
        regular_file("bin/busybox", paths.busybox.read_bytes(), 0o755),
        directory("dev"),
        char_device("dev/console", 5, 1),
        directory("proc"),
        directory("sys"),
        directory("tmp", 0o1777),
        directory("lab"),
        regular_file("lab/kvmexec", paths.kvmexec.read_bytes(), 0o755),
        regular_file("lab/job.sh", job.script.encode()),
        regular_file("init", _INIT.replace("@NONCE@", nonce).encode(), 0o755),
    ]
    if job.with_qemu:
        entries.append(regular_file("lab/kvmtrace.so", paths.kvmtrace.read_bytes()))
    entries += [
        regular_file(f"lab/{name}", data, mode)
        for name, (data, mode) in sorted(job.files.items())
    ]
    return newc_archive(entries)


def _parse(console: str, nonce: str) -> tuple[dict[str, tuple[int, list[str]]], bool]:
    marker, prefix = f"@@LAB {nonce} ", f"{nonce}|"
    sections: dict[str, tuple[int, list[str]]] = {}
    current: list[str] | None = None
    done = False
    for line in console.splitlines():
        if line.startswith(prefix) and current is not None:
            current.append(line[len(prefix) :])
        elif line.startswith(marker + "BEGIN "):
            current = []
        elif line.startswith(marker + "END ") and current is not None:
            name, status, count = line[len(marker) + 4 :].rsplit(" ", 2)
            if int(count) != len(current):
                msg = (
                    f"section {name!r}: the console carried {len(current)} of "
                    f"{count} lines; output was lost or mangled"
                )
                raise LabError(msg, console)
            sections[name] = (int(status), current)
            current = None
        elif line == marker + "DONE":
            done = True
    return sections, done


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines()[-lines:]]
    return " | ".join(line for line in kept if line) or "(nothing)"


def boot_guest(
    job: GuestJob,
    *,
    timeout: float,
    paths: LabPaths | None = None,
    console: TextIO | None = None,
    qemu: str | None = None,
) -> GuestRun:
    """Boot the guest once, run *job*, and return its framed sections.

    Raises:
        LabNotReadyError: The kernel, busybox or a helper is missing.
        LabError: The guest did not reach DONE (timeout, crash, QEMU failure);
            the message says which and quotes the end of the console.
    """
    paths = paths or LabPaths.default()
    paths.require(paths.image, paths.busybox, paths.kvmexec)
    if job.with_qemu:
        paths.require(paths.kvmtrace, paths.qemu_cpio)
    nonce = secrets.token_hex(6)
    with tempfile.TemporaryDirectory(prefix="virtmodel-lab-") as tmp:
        initrd = Path(tmp) / "initrd.cpio"
        with initrd.open("wb") as out:
            # The kernel unpacks concatenated archives one after the other, so
            # the big QEMU archive is copied as is, never re-encoded.
            if job.with_qemu:
                with paths.qemu_cpio.open("rb") as closure:
                    shutil.copyfileobj(closure, out)
            for archive in job.archives:
                if isinstance(archive, bytes):
                    out.write(archive)
                    continue
                with archive.open("rb") as extra:
                    shutil.copyfileobj(extra, out)
            out.write(_job_archive(paths, job, nonce))
        try:
            result = run_console(
                guest_command(paths, initrd, qemu),
                timeout=timeout,
                console=console,
                expect=f"@@LAB {nonce} DONE",
            )
        except FileNotFoundError as exc:
            msg = f"cannot run {exc.filename!r}: install Debian's qemu-system-arm"
            raise LabError(msg) from exc
    sections, done = _parse(result.console, nonce)
    if not done:
        if f"@@LAB {nonce} READY" not in result.console:
            where = "before its job started"
        else:
            where = "during its job"
        detail = (
            _tail(result.console) if result.console.strip() else _tail(result.stderr)
        )
        msg = f"lab guest ended {where}: {result.reason}; last output: {detail}"
        raise LabError(msg, result.console)
    return GuestRun(sections, result)


def shell_quote(words: Sequence[str]) -> str:
    """Return *words* as one POSIX shell command line."""
    return " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
