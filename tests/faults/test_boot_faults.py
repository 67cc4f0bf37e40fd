"""``virtmodel boot`` when things go wrong: one clear line, a clean exit, and
no QEMU process left behind.

Cases: QEMU missing, the kernel missing or not an arm64 Image, QEMU exiting
early (a stand-in script, which also leaves a grandchild behind to prove the
whole process group is stopped), and a real guest that hangs (Debian's arm64
kernel with no initrd panics and waits) stopped by a tiny timeout.
"""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import ASSETS, require_file, require_tool
from tests.fuzz.harness import TALLY, run_cli
from virtmodel.machine.qemu.boot import QemuMachine, boot

A57 = ["-cpu", "cortex-a57"]


def _qemu_children() -> list[int]:
    """Return pids of live qemu processes whose parent is this test process."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(
            line.split(":\t", 1) for line in status.splitlines() if ":\t" in line
        )
        if fields.get("PPid", "").strip() == me and "qemu" in fields.get("Name", ""):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ends_soon(pid: int, grace: float = 2.0) -> bool:
    # SIGKILL lands asynchronously: on a loaded machine a killed process can
    # still be seen running for a moment after the group was signalled.
    deadline = time.monotonic() + grace
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _fake_qemu(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-qemu"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _arm64_image(tmp_path: Path) -> Path:
    """Return a file that passes the arm64 Image header check (and boots nothing)."""
    image = tmp_path / "Image"
    head = bytearray(0x40)
    head[0x38:0x3C] = b"ARM\x64"
    image.write_bytes(bytes(head))
    return image


def _boot_cli(argv: list[str]) -> tuple[int | None, list[str]]:
    outcome = run_cli(["boot", *A57, *argv])
    TALLY.record("boot faults", outcome.kind, outcome.argv, outcome.problem)
    assert outcome.problem == ""
    return outcome.status, outcome.error_lines()


def test_missing_qemu_is_one_line_naming_it(tmp_path: Path) -> None:
    status, errors = _boot_cli(
        ["--qemu", "/nonexistent/qemu", "--kernel", str(_arm64_image(tmp_path))]
    )

    assert status == 2
    assert "'/nonexistent/qemu' is not installed" in errors[0]


def test_missing_kernel_is_one_line_naming_it() -> None:
    status, errors = _boot_cli(["--kernel", "/nonexistent/Image"])

    assert status == 2
    assert "kernel '/nonexistent/Image' cannot be read" in errors[0]


@pytest.mark.parametrize(
    "content",
    [b"", b"#!/bin/sh\necho hi\n", b"\x7fELF" + bytes(100), b"\x1f\x8b" + bytes(8)],
    ids=["empty", "script", "elf", "broken-gzip"],
)
def test_kernel_that_is_not_an_arm64_image_is_one_line_naming_it(
    tmp_path: Path, content: bytes
) -> None:
    kernel = tmp_path / "not-an-image"
    kernel.write_bytes(content)

    status, errors = _boot_cli(["--kernel", str(kernel)])

    assert status == 2
    assert f"kernel {str(kernel)!r}" in errors[0]
    assert _qemu_children() == []


def test_qemu_that_exits_early_is_reported_with_its_last_message(
    tmp_path: Path,
) -> None:
    qemu = _fake_qemu(tmp_path, 'echo "qemu: cannot do that" >&2\nexit 1')

    status, errors = _boot_cli(
        ["--qemu", str(qemu), "--kernel", str(_arm64_image(tmp_path))]
    )

    assert status in (1, 2)
    assert "cannot do that" in errors[0]


def test_a_grandchild_of_qemu_is_stopped_with_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    qemu = _fake_qemu(tmp_path, f"sleep 300 &\necho $! > {pidfile}\nsleep 300")

    result = boot(
        QemuMachine(cpu="cortex-a57"),
        dtb=_minimal_dtb(),
        kernel=_arm64_image(tmp_path),
        timeout=1.0,
        console=io.StringIO(),
        qemu=str(qemu),
    )

    assert result.timed_out
    assert not _alive(result.pid)
    assert _ends_soon(int(pidfile.read_text()))


def _minimal_dtb() -> bytes:
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.boards.virt.dtb import build_virt_dtb

    return build_virt_dtb(VirtConfig.from_options(cpu="cortex-a57")).to_dtb(None)


@pytest.mark.slow
def test_hanging_guest_is_stopped_at_the_timeout_and_qemu_is_gone() -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    kernel = require_file(ASSETS / "Image", "Debian's arm64 kernel")

    start = time.monotonic()
    result = boot(
        QemuMachine(cpu="cortex-a57", memory="256M"),
        dtb=_minimal_dtb(),
        kernel=kernel,
        timeout=0.5,  # the guest panics (and the boot ends) ~1 s in
        console=io.StringIO(),
    )
    elapsed = time.monotonic() - start

    assert result.timed_out
    assert not result.ok
    assert "did not finish within 0.5 s" in result.reason
    assert elapsed < 0.5 + 5.0
    assert not _alive(result.pid)
    assert _qemu_children() == []


@pytest.mark.slow
def test_cli_boot_of_a_hanging_guest_exits_1_in_one_line() -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    kernel = require_file(ASSETS / "Image", "Debian's arm64 kernel")

    status, errors = _boot_cli(
        ["-m", "256M", "--kernel", str(kernel), "--timeout", "0.5"]
    )  # the guest panics (and the boot ends) ~1 s in

    assert status == 1
    assert errors == ["virtmodel: guest still running after 0.5 s; QEMU stopped"]
    assert _qemu_children() == []


def test_cli_boot_of_a_panicking_guest_returns_at_once_with_the_panic_line(
    tmp_path: Path,
) -> None:
    qemu = _fake_qemu(
        tmp_path,
        "echo '[    0.7] Kernel panic - not syncing: No working init found.'\n"
        "sleep 300",
    )
    start = time.monotonic()

    status, errors = _boot_cli(
        ["--qemu", str(qemu), "--kernel", str(_arm64_image(tmp_path))]
    )

    assert time.monotonic() - start < 20  # not the 60 s default timeout
    assert status == 1
    assert errors == [
        "virtmodel: guest panicked: "
        "[    0.7] Kernel panic - not syncing: No working init found."
    ]
    assert _qemu_children() == []
