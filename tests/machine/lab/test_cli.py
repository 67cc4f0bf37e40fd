"""``virtmodel lab`` on the command line: usage errors, lab failures, output."""

from __future__ import annotations

import pytest

from virtmodel.machine.cli.main import main
from virtmodel.machine.lab import batch
from virtmodel.machine.lab.paths import LabError, LabPaths, lab_dir
from virtmodel.machine.lab.qemu import QemuTrace
from virtmodel.machine.lab.script import KvmScriptResult
from virtmodel.machine.lab.tracelog import parse_trace_log


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["lab"], "COMMAND"),
        (["lab", "reboot"], "invalid choice: 'reboot'"),
        (["lab", "kvm"], "FILE"),
        (["lab", "kvm", "--timeout", "soon", "f"], "--timeout"),
        (["lab", "qemu-trace", "-accel", "tcg"], "'-accel' is fixed by the lab"),
        (["lab", "qemu-trace", "-smp", "1", "--", "--"], "configuration 2 is empty"),
        (["lab", "qemu-trace", "--timeout"], "--timeout"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, argv, fragment):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("virtmodel: error: ")
    assert fragment in err


def test_a_malformed_script_names_file_and_line_before_any_boot(
    capsys, tmp_path, monkeypatch
):
    script = tmp_path / "bad.kvm"
    script.write_text("create_vm 0\nset_attr x0 0 0 0\n")
    monkeypatch.setattr(batch, "boot_guest", pytest.fail)  # must not be reached
    status, _, err = run(capsys, "lab", "kvm", str(script))
    assert status == 2
    assert err == (
        f"virtmodel: error: {script}: line 2: set_attr field 1 'x0' must be a device "
        "handle d0, d1, ...\n"
    )


def test_a_missing_script_file_is_bad_usage(capsys, tmp_path):
    status, _, err = run(capsys, "lab", "kvm", str(tmp_path / "none.kvm"))
    assert status == 2
    assert "none.kvm" in err
    assert err.count("\n") == 1


def test_a_lab_not_set_up_is_a_lab_failure_exit_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VIRTMODEL_LAB_DIR", str(tmp_path / "nothing"))
    script = tmp_path / "ok.kvm"
    script.write_text("create_vm 0\n")
    status, out, err = run(capsys, "lab", "kvm", str(script))
    assert status == 1
    assert out == ""
    assert err.startswith("virtmodel: lab: ")
    assert err.endswith("run: virtmodel lab setup\n")
    assert err.count("\n") == 1


def test_lab_kvm_prints_every_answer_per_file(capsys, tmp_path, monkeypatch):
    files = [tmp_path / "a.kvm", tmp_path / "b.kvm"]
    files[0].write_text("create_vm 0\ncreate_device 5 0\n")
    files[1].write_text("create_vm 0x30\n")

    def fake(texts, *, timeout, console, paths):
        assert paths == LabPaths(tmp_path / "mine")
        assert texts == [f.read_text() for f in files]
        assert timeout is None
        assert console is None
        return [
            [KvmScriptResult(1, "create_vm 0", 5, 0, None),
             KvmScriptResult(2, "create_device 5 0", -1, 19, None)],
            [KvmScriptResult(1, "create_vm 0x30", 5, 0, None)],
        ]  # fmt: skip

    monkeypatch.setattr(batch, "run_kvm_scripts", fake)
    status, out, _ = run(
        capsys, "lab", "--dir", str(tmp_path / "mine"), "kvm", *map(str, files)
    )
    assert status == 0
    assert out == (
        f"# {files[0]}\n1 5 0 -  # create_vm 0\n2 -1 19 -  # create_device 5 0\n"
        f"# {files[1]}\n1 5 0 -  # create_vm 0x30\n"
    )


def test_lab_qemu_trace_prints_each_configuration(capsys, monkeypatch):
    seen = []

    def fake(configs, *, timeout, reset, console, paths):
        assert paths == LabPaths(lab_dir())  # the default
        assert reset is False
        assert console is not None  # --console: the guest's console on stderr
        seen.extend(configs)
        calls = parse_trace_log(["sys KVM_CREATE_VM type=0x0 ret=9 errno=0"])
        return [
            QemuTrace(
                ("-M", "virt"), tuple(calls), running=True, status=137, output=()
            ),
            QemuTrace(("-m", "9G"), (), running=False, status=1, output=("no memory",)),
        ]

    monkeypatch.setattr(batch, "trace_qemu", fake)
    status, out, _ = run(
        capsys,
        "lab",
        "qemu-trace",
        "--timeout",
        "50",
        "--console",
        "-smp",
        "1",
        "--",
        "-m",
        "9G",
    )
    assert seen == [
        ("-M", "virt", "-smp", "1", "-cpu", "host"),
        ("-M", "virt", "-m", "9G", "-cpu", "host"),
    ]
    assert status == 1  # one configuration did not come up
    assert "KVM_CREATE_VM(vm, type=0, fd=9) = 0" in out
    assert "# QEMU exited with status 1:\n#   no memory\n" in out


def test_a_guest_failure_is_one_line_exit_1(capsys, monkeypatch, tmp_path):
    def fail(configs, *, timeout, reset, console, paths):
        raise LabError(
            "lab guest ended during its job: qemu exited with status 1", "console\ntext"
        )

    monkeypatch.setattr(batch, "trace_qemu", fail)
    status, out, err = run(capsys, "lab", "qemu-trace")
    assert (status, out) == (1, "")
    assert (
        err
        == "virtmodel: lab: lab guest ended during its job: qemu exited with status 1\n"
    )
