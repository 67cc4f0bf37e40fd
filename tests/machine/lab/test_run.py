"""``virtmodel lab run``: the job it builds and the relay of its output (no guest)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.machine.lab.conftest import fake_qemu
from tests.machine.lab.test_guest import _members
from virtmodel.machine.cli.main import main
from virtmodel.machine.lab import python as lab_python
from virtmodel.machine.lab.paths import LabError, LabPaths
from virtmodel.machine.lab.python import source_archive
from virtmodel.machine.lab.run import _Relay, guest_script, run_in_guest


def test_the_job_runs_guest_python_with_the_words_quoted_and_frames_live():
    script = guest_script(["-m", "virtmodel", "run", "-M", "virt,its=on", "it's"])
    assert (
        "'/usr/bin/python3.11' '-m' 'virtmodel' 'run' '-M' 'virt,its=on' 'it'\\''s'"
        in script
    )
    assert "PYTHONPATH=/opt/virtmodel/src:/opt/virtmodel/site" in script
    assert 'echo "@@LAB $N BEGIN run"' in script
    assert '| sed "s/^/$N|/"' in script
    assert "$(cat /tmp/run.status) $(wc -l </tmp/run.out)" in script


def test_the_relay_passes_on_framed_lines_only_even_split_across_chunks():
    out = io.StringIO()
    relay = _Relay(out)
    relay.write("[    6.1] kvm [1]: IPA Size Limit: 48 bits\r\n0123456789ab|# virt")
    assert out.getvalue() == ""
    relay.write("model run\r\n@@LAB 0123456789ab END run 0 1\r\nabc|not framed\n")
    relay.write("0123456789ab|   1    phase NO_MACHINE -> MACHINE_CREATED\n")
    assert out.getvalue().splitlines() == [
        "# virtmodel run",
        "   1    phase NO_MACHINE -> MACHINE_CREATED",
    ]


def test_the_source_archive_carries_this_host_s_virtmodel_with_bytecode():
    data = source_archive()
    for name in (
        b"opt/virtmodel/src/virtmodel/__init__.py",
        b"opt/virtmodel/src/virtmodel/machine/kvm/host/vm.py",
        b"opt/virtmodel/src/virtmodel/machine/kvm/host/__pycache__/vm.cpython-311.pyc",
        b"opt/virtmodel/src/virtmodel/devices/gicv3.py",
        b"opt/virtmodel/src/virtmodel/notifiers/__init__.py",
    ):
        assert name + b"\0" in data, name
    assert b"machine/lab/guest/kvmexec.c\0" not in data


def test_lab_run_without_arguments_is_a_usage_error(capsys):
    assert main(["lab", "run"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "virtmodel: error: lab run needs virtmodel's arguments, e.g.: lab run -- run -accel kvm\n"
    )


# -- python_archive against stand-ins (no network) ---------------------------------

FAKE_TOOLS = Path(__file__).with_name("fakepython.py")


@pytest.fixture
def standins(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("apt-get", "apt-cache", "dpkg", "aarch64-linux-gnu-readelf", "pip"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\n" + FAKE_TOOLS.read_text())
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(lab_python, "PIP", (str(bin_dir / "pip"),))
    return LabPaths(tmp_path / "lab")


def test_python_archive_packs_python_its_libraries_and_the_wheels(standins):
    said: list[str] = []
    archive = lab_python.python_archive(standins, said.append)
    members = _members(archive.read_bytes())
    assert members["usr/bin/python3.11"] == b"\x7fELF python"
    assert members["usr/bin/python3"] == b"python3.11"
    assert members["usr/lib/python3.11/os.py"] == b"import sys\n"
    pyc = members["usr/lib/python3.11/__pycache__/os.cpython-311.pyc"]
    assert pyc[4:8] == b"\x01\x00\x00\x00"  # a hash-based pyc, never re-checked
    assert (
        "usr/lib/python3.11/__pycache__/broken_template.cpython-311.pyc" not in members
    )
    assert not any("/test/" in name or "/tests/" in name for name in members)
    assert not any("_sqlite3" in name for name in members)
    assert members["opt/virtmodel/site/pydantic_core/__init__.py"] == b"VERSION = '2'\n"
    libs = sorted(n for n in members if n.startswith("lib/aarch64-linux-gnu/"))
    assert libs == [
        "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
        "lib/aarch64-linux-gnu/libc.so.6",
        "lib/aarch64-linux-gnu/libffi.so.8",
    ]
    assert members["lib/aarch64-linux-gnu/libffi.so.8"] == b"\x7fELF ffi"
    assert said[0] == "apt: updating the arm64 package lists"
    # Built once: a second call finds it, pins unchanged.
    said.clear()
    assert lab_python.python_archive(standins, said.append) == archive
    assert said == []


def test_a_failed_wheel_download_names_pip_s_error(standins, monkeypatch):
    monkeypatch.setenv("FAKE_PIP_FAIL", "1")
    with pytest.raises(LabError, match="pip download of the aarch64 wheels failed: "
                       "ERROR: No matching distribution"):  # fmt: skip
        lab_python.python_archive(standins)


def test_a_wheel_missing_on_this_host_is_named(monkeypatch):
    monkeypatch.setattr(lab_python, "WHEELS", ("no-such-distribution-here",))
    with pytest.raises(LabError, match="'no-such-distribution-here' is not installed"):
        lab_python.pins()


def test_packages_without_the_interpreter_are_refused(tmp_path):
    with pytest.raises(
        LabError, match=r"python3\.11-minimal has no usr/bin/python3\.11"
    ):
        lab_python._entries(tmp_path, "aarch64-linux-gnu-readelf")


# -- run_in_guest with the stand-in QEMU ---------------------------------------------

FAKE_QEMU = Path(__file__).with_name("fakeqemu.py")


@pytest.fixture
def guest(fake_lab, tmp_path, monkeypatch):
    program = fake_qemu(tmp_path, f'exec "{sys.executable}" "{FAKE_QEMU}" "$@"\n')
    monkeypatch.setenv("VIRTMODEL_LAB_QEMU", program)
    monkeypatch.setenv("VIRTMODEL_LAB_DIR", str(fake_lab.root))
    archive = fake_lab.root / "python.cpio"
    archive.write_bytes(b"")
    archive.with_name("python.pins").write_text(" ".join(lab_python.pins()) + "\n")
    return fake_lab


def test_lab_run_relays_the_guest_s_lines_and_returns_its_status(
    guest, monkeypatch, capsys
):
    lines = [
        "# virtmodel run: virt-7.2 kvm",
        "   5        KVM_CREATE_VCPU(vcpu0, 0) = 0",
    ]
    monkeypatch.setenv("FAKE_QEMU_SECTIONS", json.dumps([["run", 3, lines]]))
    assert main(["lab", "run", "--timeout", "30", "--", "run", "-accel", "kvm"]) == 3
    assert capsys.readouterr().out.splitlines() == lines


def test_a_guest_that_prints_nothing_framed_is_a_lab_error(guest, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_SECTIONS", "[]")
    with pytest.raises(LabError, match="printed no framed output"):
        run_in_guest(["-c", "pass"], timeout=30, paths=guest)


def test_lab_setup_packs_python_only_when_asked(fake_lab, monkeypatch, capsys):
    fake_lab.kernel_release.write_text("vmlinuz-6.1.0-99-arm64\n")
    fake_lab.qemu_version.write_text("1:7.2+dfsg-7\n")
    packed: list[LabPaths] = []

    def pack(paths, say):
        packed.append(paths)
        return paths.root / "python.cpio"

    monkeypatch.setattr(
        "virtmodel.machine.lab.setup.setup_lab", lambda paths, progress: fake_lab
    )
    monkeypatch.setattr(lab_python, "python_archive", pack)
    assert main(["lab", "setup"]) == 0
    assert packed == []
    assert main(["lab", "setup", "--python"]) == 0
    assert packed == [fake_lab]
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"lab python ready: {fake_lab.root / 'python.cpio'}"
    )
