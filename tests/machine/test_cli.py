import json
import subprocess
import sys

import pytest

from tests.conftest import require_tool
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb
from virtmodel.machine.cli.main import main

MAIN_JOB = [
    "-M",
    "virt,gic-version=3,its=on",
    "-smp",
    "4",
    "-m",
    "1G",
    "-cpu",
    "cortex-a57",
    "-accel",
    "kvm",
]
RC1 = [*MAIN_JOB, "--kernel-semantics", "v4.8-rc1", "--its-init", "init-done"]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_main_job_prints_the_trace_with_notifiers_and_kvm_calls(capsys):
    status, out, err = run(capsys, "run", *MAIN_JOB)

    assert status == 0
    assert err == ""
    assert "notifier kvm-set-addr:its" in out
    assert "KVM_RUN(vcpu3) = 0" in out
    assert out.index("phase MACHINE_INITIALIZED -> MACHINE_READY") < out.index(
        " notifier "
    )


def test_the_2016_failure_is_one_line_naming_notifier_call_and_errno(capsys):
    status, out, err = run(capsys, "run", *RC1, "--notifiers", "qemu-lifo")

    assert status == 1
    assert err.count("\n") == 1
    assert "notifier 'its-ctrl-init'" in err
    assert "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, CTRL_INIT) -> ENXIO" in err
    assert "FAILED" in out


def test_the_fix_boots(capsys):
    status, out, _ = run(capsys, "run", *RC1, "--notifiers", "ordered")

    assert status == 0
    assert "notifier its-ctrl-init  [after=kvm-set-addr:its]" in out


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["run", "-M", "virt,gic-version=7"], "gic-version"),
        (["run", "-M", "virt,its=maybe"], "its"),
        (["run", "-M", "pc"], "pc"),
        (["run", "-smp", "9", "-M", "virt,gic-version=2"], "smp"),
        (["run", "-m", "lots"], "lots"),
        (["run", "-cpu", "pentium"], "pentium"),
        (["run", "--notifiers", "fifo"], "fifo"),
        (["run", "--drop-edge", "nonsense"], "nonsense"),
        (["run", "--drop-edge", "its-ctrl-init=ghost", *MAIN_JOB], "ghost"),
        (["run", "--kernel-semantics", "v4.8"], "-accel kvm"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_exit_2_naming_the_culprit(capsys, argv, culprit):
    status, _out, err = run(capsys, *argv)

    assert status == 2
    assert err.count("\n") == 1
    assert culprit in err
    assert "Traceback" not in err


def test_no_traceback_reaches_a_real_terminal():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "virtmodel",
            "run",
            "-M",
            "virt,gic-version=3",
            "-smp",
            "600",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 2
    assert proc.stderr.startswith("virtmodel: error: option 'smp'")
    assert "Traceback" not in proc.stderr


def test_check_reports_hazards_only_when_an_edge_is_missing(capsys):
    status, out, _ = run(capsys, "run", *RC1, "--check")
    assert status == 0
    assert "hazards: none" in out

    status, out, _err = run(
        capsys,
        "run",
        *MAIN_JOB,
        "--kernel-semantics",
        "v6.1",
        "--its-init",
        "init-done",
        "--check",
        "--drop-edge",
        "its-ctrl-init=kvm-set-addr:its",
    )
    assert status == 3  # came up, but --check found hazards
    assert "hazard:" in out
    assert "kvm.its.addr" in out


def test_json_trace_is_machine_readable(capsys):
    status, out, _ = run(capsys, "run", *MAIN_JOB, "--json")

    data = json.loads(out)
    assert status == 0
    assert data["failed"] is None
    assert {e["kind"] for e in data["trace"]} >= {"phase", "kvm", "notifier"}


def test_explore_finds_the_its_pair_and_prints_the_fix(capsys):
    status, out, _ = run(
        capsys,
        "explore",
        *RC1,
        "--drop-edge",
        "its-ctrl-init=kvm-set-addr:its",
        "--limit",
        "200",
    )

    assert status == 1
    assert "nothing orders 'kvm-set-addr:its' and 'its-ctrl-init'" in out
    assert "after='kvm-set-addr:its'" in out


def test_explore_with_the_edge_says_every_order_gives_the_same_machine(capsys):
    status, out, err = run(capsys, "explore", *RC1, "--limit", "200")

    assert status == 0
    assert "1 class of equivalent orders of 7 notifiers, 1 run (exhaustive" in out
    assert "every valid order is equivalent: every notifier ran" in out
    assert err == ""  # no progress line outside a terminal


def test_explore_all_orders_runs_each_valid_order(capsys):
    status, out, _ = run(capsys, "explore", *RC1, "--all-orders", "--limit", "30")

    assert status == 0
    assert "30 sampled orders of 7 notifiers (more than limit=30 are valid" in out
    assert "every one of 30 orders gives the same outcome" in out


def test_explain_gives_the_declared_chain(capsys):
    status, out, _ = run(capsys, "explain", *RC1, "kvm-set-addr:its", "its-ctrl-init")

    assert status == 0
    assert "after" in out
    assert "its.py" in out


def test_graph_dot_numbers_the_order(capsys):
    status, out, _ = run(capsys, "graph", *RC1)

    assert status == 0
    assert out.startswith("digraph")
    assert "its-ctrl-init" in out


def test_graph_svg_renders_through_graphviz(tmp_path, capsys):
    require_tool("dot", "graphviz")
    target = tmp_path / "g.svg"

    status, _, _ = run(capsys, "graph", *RC1, "--format", "svg", "-o", str(target))

    assert status == 0
    assert target.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_a_failing_dot_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'syntax error in line 3' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    target = tmp_path / "g.svg"

    status, _, err = run(capsys, "graph", *RC1, "--format", "svg", "-o", str(target))

    assert status == 1
    assert err == (
        f"virtmodel: error: {fake} -Tsvg failed with status 3: syntax error in line 3\n"
    )
    assert not target.exists()


def test_graph_svg_without_output_names_the_missing_option_first(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    status, _, err = run(capsys, "graph", *RC1, "--format", "svg")

    assert status == 2
    assert err == "virtmodel: error: --format svg needs -o FILE\n"


def test_a_bug_in_board_code_keeps_its_traceback(capsys, monkeypatch):
    from virtmodel.machine.boards.virt import board as virt

    def broken(*args, **kwargs):
        raise KeyError("gic")

    monkeypatch.setattr(virt, "create_virt", broken)

    with pytest.raises(KeyError, match="gic"):
        main(["run", *MAIN_JOB])


def test_dtb_and_dts_match_the_builder(tmp_path, capsys):
    out_file = tmp_path / "virt.dtb"
    opts = ["-M", "virt,gic-version=3,dtb-randomness=off", "-smp", "2"]

    assert run(capsys, "dtb", *opts, "-o", str(out_file))[0] == 0
    status, dts, _ = run(capsys, "dts", *opts)

    cfg = VirtConfig.from_options("virt,gic-version=3,dtb-randomness=off", smp="2")
    assert out_file.read_bytes() == build_virt_dtb(cfg).to_dtb()
    assert status == 0
    assert dts == build_virt_dtb(cfg).to_dts()


def test_bad_dtb_options_leave_no_file(tmp_path, capsys):
    out_file = tmp_path / "virt.dtb"

    status, _, _ = run(capsys, "dtb", "-M", "virt,gic-version=5", "-o", str(out_file))

    assert status == 2
    assert list(tmp_path.iterdir()) == []


def test_trace_and_dtb_do_not_depend_on_the_hash_seed(tmp_path):
    outputs = set()
    for seed in ("0", "1", "4242"):
        dtb = tmp_path / f"{seed}.dtb"
        env = {**__import__("os").environ, "PYTHONHASHSEED": seed}
        run_out = subprocess.run(
            [sys.executable, "-m", "virtmodel", "run", *RC1],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        subprocess.run(
            [
                sys.executable,
                "-m",
                "virtmodel",
                "dtb",
                *MAIN_JOB[:6],
                "--seed",
                "3",
                "-o",
                str(dtb),
            ],
            env=env,
            check=True,
        )
        outputs.add((run_out, dtb.read_bytes()))

    assert len(outputs) == 1
