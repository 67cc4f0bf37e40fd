"""The guest runner with a stand-in QEMU: framing, timeouts, crashes, cleanup."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.machine.lab.conftest import fake_qemu
from virtmodel.machine.lab.batch import run_kvm_scripts, trace_qemu
from virtmodel.machine.lab.guest import (
    GuestJob,
    _job_archive,
    boot_guest,
    guest_command,
)
from virtmodel.machine.lab.paths import LabError, LabNotReadyError, LabPaths
from virtmodel.machine.qemu.initramfs import newc_archive, regular_file

FAKE = Path(__file__).with_name("fakeqemu.py")


@pytest.fixture
def qemu(tmp_path, monkeypatch):
    """Point the lab at the Python stand-in; return its pid file."""
    program = fake_qemu(tmp_path, f'exec "{sys.executable}" "{FAKE}" "$@"\n')
    monkeypatch.setenv("VIRTMODEL_LAB_QEMU", program)
    pidfile = tmp_path / "qemu.pid"
    monkeypatch.setenv("FAKE_QEMU_PIDFILE", str(pidfile))
    return pidfile


def gone(pidfile: Path) -> bool:
    """Whether no live (non-zombie) process is left in QEMU's process group.

    Killed processes may stay zombies where pid 1 does not reap orphans (in
    containers), so they are not counted. A SIGKILL'd process can take a
    moment to die on a loaded machine, so the check waits up to 5 s.
    """
    pgid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _members_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _members_alive(pgid)


def _members_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False


def test_sections_come_back_and_kernel_noise_is_ignored(fake_lab, qemu, monkeypatch):
    sections = [["kvm", 0, ["1 5 0 -", "2 6 0 -"]], ["other", 3, []]]
    monkeypatch.setenv("FAKE_QEMU_SECTIONS", json.dumps(sections))
    run = boot_guest(GuestJob("true\n"), timeout=30, paths=fake_lab)
    assert run.sections == {"kvm": (0, ["1 5 0 -", "2 6 0 -"]), "other": (3, [])}
    assert run.boot.matched
    assert gone(qemu)


def test_a_lost_line_is_caught_by_the_count(fake_lab, qemu, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_MODE", "garbled")
    monkeypatch.setenv("FAKE_QEMU_SECTIONS", json.dumps([["kvm", 0, ["1 0 0 -"]]]))
    with pytest.raises(
        LabError, match=r"section 'kvm': the console carried 1 of 2 lines"
    ):
        boot_guest(GuestJob("true\n"), timeout=30, paths=fake_lab)
    assert gone(qemu)


def test_a_hung_guest_ends_at_the_timeout_with_nothing_left(
    fake_lab, qemu, monkeypatch
):
    monkeypatch.setenv("FAKE_QEMU_MODE", "hang")
    with pytest.raises(LabError) as info:
        boot_guest(GuestJob("true\n"), timeout=2, paths=fake_lab)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("lab guest ended before its job started")
    assert "did not finish within 2 s" in message
    assert "Booting Linux" in message  # what it printed
    assert "Booting Linux" in info.value.console
    assert gone(qemu)  # the grandchild too: the whole group was killed


def test_a_crashed_guest_says_how_it_ended(fake_lab, qemu, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_MODE", "crash")
    with pytest.raises(LabError) as info:
        boot_guest(GuestJob("true\n"), timeout=30, paths=fake_lab)
    message = str(info.value)
    # The runner stops QEMU at the panic line instead of waiting for it to exit.
    assert message.startswith(
        "lab guest ended during its job: guest panicked: "
        "[   12.345678] Kernel panic - not syncing: Attempted to kill init!"
    )
    assert gone(qemu)


def test_a_missing_host_qemu_is_named(fake_lab, monkeypatch):
    monkeypatch.setenv("VIRTMODEL_LAB_QEMU", "/nonexistent/qemu-system-aarch64")
    with pytest.raises(LabError, match="qemu-system-arm"):
        boot_guest(GuestJob("true\n"), timeout=5, paths=fake_lab)


def test_a_lab_that_was_never_set_up_says_so(tmp_path):
    paths = LabPaths(tmp_path / "empty")
    with pytest.raises(
        LabNotReadyError, match=r"Image is missing; run: virtmodel lab setup"
    ):
        boot_guest(GuestJob("true\n"), timeout=5, paths=paths)


def test_qemu_jobs_need_the_qemu_archive(fake_lab):
    fake_lab.qemu_cpio.unlink()
    with pytest.raises(LabNotReadyError, match=r"qemu\.cpio is missing"):
        boot_guest(GuestJob("true\n", with_qemu=True), timeout=5, paths=fake_lab)


def _members(archive: bytes) -> dict[str, bytes]:
    """Read a newc archive back: path -> data."""
    members: dict[str, bytes] = {}
    offset = 0
    while True:
        header = archive[offset : offset + 110]
        assert header[:6] == b"070701"
        size, namesize = int(header[54:62], 16), int(header[94:102], 16)
        name = archive[offset + 110 : offset + 110 + namesize - 1].decode()
        start = offset + 110 + namesize
        start += -start % 4
        if name == "TRAILER!!!":
            return members
        members[name] = archive[start : start + size]
        offset = start + size + (-size % 4)


def test_the_job_archive_holds_init_busybox_helpers_and_files(fake_lab):
    job = GuestJob("section kvm ./kvmexec x\n", {"x": (b"create_vm 0\n", 0o644)})
    members = _members(_job_archive(fake_lab, job, "abc123"))
    assert members["bin/busybox"] == fake_lab.busybox.read_bytes()
    assert members["lab/kvmexec"] == fake_lab.kvmexec.read_bytes()
    assert members["lab/job.sh"] == b"section kvm ./kvmexec x\n"
    assert members["lab/x"] == b"create_vm 0\n"
    init = members["init"].decode()
    assert "\nN=abc123\n" in init
    assert "mount -t devtmpfs devtmpfs /dev" in init  # /dev/kvm needs it
    assert "lab/kvmtrace.so" not in members  # only QEMU jobs carry the tracer
    with_qemu = _members(
        _job_archive(fake_lab, GuestJob("true\n", with_qemu=True), "n")
    )
    assert with_qemu["lab/kvmtrace.so"] == fake_lab.kvmtrace.read_bytes()


def test_the_qemu_archive_goes_first_and_unchanged(
    fake_lab, qemu, monkeypatch, tmp_path
):
    closure = newc_archive([regular_file("marker", b"QEMU-CLOSURE")])
    fake_lab.qemu_cpio.write_bytes(closure)
    seen = tmp_path / "seen.cpio"
    program = fake_qemu(
        tmp_path,
        f'cp "$(echo "$@" | sed "s/.*-initrd \\([^ ]*\\).*/\\1/")" {seen}\n'
        f'exec "{sys.executable}" "{FAKE}" "$@"\n',
    )
    monkeypatch.setenv("VIRTMODEL_LAB_QEMU", program)
    boot_guest(GuestJob("true\n", with_qemu=True), timeout=30, paths=fake_lab)
    assert seen.read_bytes().startswith(closure)


def test_the_guest_command_enables_el2_and_kvm_needs():
    command = guest_command(LabPaths(Path("/lab")), Path("/tmp/i.cpio"), "qemu")
    text = " ".join(command)
    assert "-M virt,virtualization=on,gic-version=3" in text
    assert "-cpu max" in text
    assert "-nic none" in text  # Debian's QEMU has no ROM for the default NIC
    assert "-kernel /lab/Image -initrd /tmp/i.cpio" in text
    assert "panic=-1" in text
    assert "-no-reboot" in text


def test_run_kvm_scripts_and_trace_qemu_through_a_stand_in(fake_lab, qemu, monkeypatch):
    sections = [
        ["kvm", 0, ["1 5 0 -", "2 -1 22 -", "4 5 0 -"]],
        ["q0.log", 0, ["sys KVM_CREATE_VM type=0x0 ret=9 errno=0"]],
        ["q0.out", 0, []],
        ["q0.state", 0, ["running 137 3"]],
    ]
    monkeypatch.setenv("FAKE_QEMU_SECTIONS", json.dumps(sections))
    results = run_kvm_scripts(
        ["create_vm 0\ncreate_vm 99\n", "create_vm 0"], paths=fake_lab
    )
    assert [[(r.line, r.ret, r.errno) for r in rs] for rs in results] == [
        [(1, 5, 0), (2, -1, 22)],
        [(1, 5, 0)],
    ]
    (trace,) = trace_qemu([("-M", "virt")], paths=fake_lab, timeout=30)
    assert [str(c) for c in trace.calls] == ["KVM_CREATE_VM(vm, type=0, fd=9) = 0"]
    assert trace.running


def test_garbage_from_kvmexec_is_a_lab_error(fake_lab, qemu, monkeypatch):
    monkeypatch.setenv(
        "FAKE_QEMU_SECTIONS", json.dumps([["kvm", 0, ["Segmentation fault"]]])
    )
    with pytest.raises(
        LabError, match="unexpected kvmexec output 'Segmentation fault'"
    ):
        run_kvm_scripts(["create_vm 0"], paths=fake_lab)
