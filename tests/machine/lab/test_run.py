"""``virtmodel lab run``: the job it builds and the relay of its output (no guest)."""

from __future__ import annotations

import io

from virtmodel.machine.cli.main import main
from virtmodel.machine.lab.python import source_archive
from virtmodel.machine.lab.run import _Relay, guest_script


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
