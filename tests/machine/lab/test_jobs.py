"""The two halves of a guest job, without a guest: scripts and QEMU configs."""

from __future__ import annotations

import io

import pytest

from virtmodel.machine.lab.batch import default_timeout
from virtmodel.machine.lab.kvm import kvm_job, kvm_results
from virtmodel.machine.lab.paths import LabError
from virtmodel.machine.lab.qemu import (
    DEFAULT_CONFIGURATION,
    UsageProblem,
    print_traces,
    qemu_job,
    qemu_results,
    split_configurations,
)
from virtmodel.machine.lab.script import KvmScriptResult, ScriptError
from virtmodel.machine.trace import FOLD_CALLS_AT

# --- KVM scripts ------------------------------------------------------------


def test_scripts_are_combined_with_an_end_after_each():
    fragment, files, plan = kvm_job(
        ["create_vm 0\ncreate_vcpu 0\n", "# x\ncreate_vm 40\nend\n"]
    )
    combined = files["scripts.kvm"][0].decode()
    assert combined.splitlines() == [
        "create_vm 0", "create_vcpu 0", "end", "create_vm 0x28", "end", "end",
    ]  # fmt: skip
    assert "./kvmexec" in fragment
    assert "scripts.kvm" in fragment
    # (combined line, call) pairs; the script's own line numbers are kept.
    assert [[(n, c.line) for n, c in entries] for entries in plan] == [
        [(1, 1), (2, 2)],
        [(4, 2)],
    ]


def test_a_bad_script_is_named_by_index_and_line():
    with pytest.raises(
        ScriptError, match=r"^script 1: line 2: unknown operation 'crate_vm'"
    ):
        kvm_job(["create_vm 0", "create_vm 0\ncrate_vm 0"])


def test_answers_go_back_to_their_scripts():
    _, _, plan = kvm_job(["create_vm 0\nget_attr d0 0 2 0\n", "create_vm 0"])
    sections = {"kvm": (0, ["1 5 0 -", "2 -1 9 -", "4 5 0 -"])}
    results = kvm_results(sections, plan, "")
    assert results == [
        [
            KvmScriptResult(1, "create_vm 0", 5, 0, None),
            KvmScriptResult(2, "get_attr d0 0 2 0", -1, 9, None),
        ],
        [KvmScriptResult(1, "create_vm 0", 5, 0, None)],
    ]
    assert str(results[0][1]) == "2 -1 9 -  # get_attr d0 0 2 0"


def test_a_missing_answer_is_an_error_naming_the_call():
    _, _, plan = kvm_job(["create_vm 0\ncreate_vcpu 0\n"])
    with pytest.raises(
        LabError, match=r"script 0: kvmexec gave no answer for line 2 \(create_vcpu 0\)"
    ):
        kvm_results({"kvm": (0, ["1 5 0 -"])}, plan, "console")


def test_a_failed_kvmexec_is_an_error_with_its_message():
    _, _, plan = kvm_job(["create_vm 0"])
    with pytest.raises(LabError, match=r"status 1\): kvmexec: /dev/kvm: No such file"):
        kvm_results(
            {"kvm": (1, ["kvmexec: /dev/kvm: No such file or directory"])}, plan, ""
        )
    with pytest.raises(LabError, match="status None"):
        kvm_results({}, plan, "")


# --- QEMU configurations --------------------------------------------------------


def test_no_arguments_trace_the_default_machine():
    assert split_configurations([]) == [DEFAULT_CONFIGURATION]
    assert "its=on" in " ".join(DEFAULT_CONFIGURATION)


def test_groups_split_at_double_dash_and_get_machine_and_cpu_defaults():
    configs = split_configurations(
        [
            "-smp",
            "4",
            "--",
            "-M",
            "virt,its=off",
            "-cpu",
            "cortex-a57",
            "--",
            "-machine",
            "virt",
        ]
    )
    assert configs == [
        ("-M", "virt", "-smp", "4", "-cpu", "host"),
        ("-M", "virt,its=off", "-cpu", "cortex-a57"),
        ("-machine", "virt", "-cpu", "host"),
    ]
    assert split_configurations(["--", "-smp", "1"]) == [
        ("-M", "virt", "-smp", "1", "-cpu", "host")
    ]


@pytest.mark.parametrize(
    ("words", "fragment"),
    [
        (["-smp", "1", "--", "--", "-smp", "2"], "configuration 2 is empty"),
        (["-smp", "1", "--"], "configuration 2 is empty"),
        (["-accel", "tcg"], "'-accel' is fixed by the lab"),
        (["-M", "virt,accel=tcg"], "is fixed by the lab"),
        (["-nic", "user"], "'-nic' is fixed"),
        (["-S"], "'-S' is fixed"),
        (["-M", "virt\nx"], "holds a newline"),
    ],
)
def test_bad_configurations_are_usage_errors(words, fragment):
    with pytest.raises(UsageProblem, match=fragment):
        split_configurations(words)


def test_the_qemu_job_runs_each_configuration_under_the_tracer():
    job = qemu_job(
        [
            ("-M", "virt", "-smp", "2"),
            (
                "-M",
                "virt,its=off",
            ),
        ]
    )
    assert "LD_PRELOAD=/lab/kvmtrace.so" in job
    assert (
        "trace q0 0 '-accel' 'kvm' '-S' '-nographic' '-nic' 'none' '-M' 'virt' '-smp' '2'\n"
        in job
    )
    assert (
        "trace q1 0 '-accel' 'kvm' '-S' '-nographic' '-nic' 'none' '-M' 'virt,its=off'\n"
        in job
    )


def _sections(log, state="running 137 4"):
    return {
        "q0.log": (0, log),
        "q0.out": (0, ["qemu: hello"]),
        "q0.state": (0, [state]),
    }


def test_qemu_results_build_traces():
    log = [
        "sys KVM_CHECK_EXTENSION arg=165 ret=48 errno=0",
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
        "vm0 KVM_CREATE_DEVICE type=7 flags=0 fd=10 ret=0 errno=0",
        "sys KVM_CREATE_VM type=0x30 ret=11 errno=0",
        "vm1 KVM_CREATE_VCPU arg=0 ret=12 errno=0",
    ]
    (trace,) = qemu_results(_sections(log), [("-M", "virt")], "")
    assert trace.ok
    assert trace.running
    assert trace.status == 137
    assert trace.args == (
        "-accel",
        "kvm",
        "-S",
        "-nographic",
        "-nic",
        "none",
        "-M",
        "virt",
    )
    assert trace.output == ("qemu: hello",)
    assert len(trace.calls) == 5
    # The machine's VM is the one with devices, not the later scratch VM.
    assert [str(c) for c in trace.machine_calls()] == [
        "KVM_CREATE_VM(vm, type=0, fd=9) = 0",
        "KVM_CREATE_DEVICE(vgic-v3, 7) = 0",
    ]
    out = io.StringIO()
    print_traces([trace], out=out)
    text = out.getvalue()
    assert text.startswith(
        "# qemu-system-aarch64 -accel kvm -S -nographic -nic none -M virt\n"
    )
    assert "KVM_CHECK_EXTENSION" not in text  # probes only with show_all
    assert "# vm1\nKVM_CREATE_VM(vm, type=48, fd=11) = 0\n" in text  # scratch VMs too
    assert "# vm0\nKVM_CREATE_VM(vm, type=0, fd=9) = 0\n" in text
    out = io.StringIO()
    print_traces([trace], show_all=True, out=out)
    assert "KVM_CHECK_EXTENSION(kvm, KVM_CAP_ARM_VM_IPA_SIZE) = 48" in out.getvalue()


def test_a_qemu_that_exited_is_not_ok_and_says_why():
    sections = _sections([], state="exited 1 1")
    sections["q0.out"] = (
        0,
        ["qemu-system-aarch64: cannot set up guest memory 'mach-virt.ram'"],
    )
    (trace,) = qemu_results(sections, [("-m", "4G")], "")
    assert not trace.ok
    assert trace.status == 1
    out = io.StringIO()
    print_traces([trace], out=out)
    assert (
        "# QEMU exited with status 1:\n#   qemu-system-aarch64: cannot set up guest memory"
        in out.getvalue()
    )


def test_a_missing_section_is_a_lab_error():
    with pytest.raises(
        LabError, match="configuration 1: the guest's report is incomplete"
    ):
        qemu_results({"q0.log": (0, [])}, [("-M", "virt")], "")


def test_the_default_timeout_grows_with_the_batch():
    assert (
        default_timeout(0, 0, 0)
        < default_timeout(1000, 10000, 0)
        < default_timeout(1000, 10000, 8)
    )


def test_json_and_raw_output_keep_everything():
    import json

    log = [
        "sys KVM_CHECK_EXTENSION arg=1 ret=1 errno=0",
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
    ]
    (trace,) = qemu_results(_sections(log), [("-M", "virt")], "")
    out = io.StringIO()
    print_traces([trace], as_json=True, out=out)
    (data,) = json.loads(out.getvalue())
    assert data["running"] is True
    assert [c["ioctl"] for c in data["calls"]] == [
        "KVM_CHECK_EXTENSION",
        "KVM_CREATE_VM",
    ]
    assert data["calls"][1]["extra"] == [["fd", "9"]]
    out = io.StringIO()
    print_traces([trace], raw=True, show_all=True, out=out)
    assert out.getvalue().splitlines()[1:] == log


def test_no_vm_means_no_machine_calls():
    (trace,) = qemu_results(
        _sections(["sys KVM_GET_API_VERSION ret=12 errno=0"]), [("-M", "virt")], ""
    )
    assert trace.machine_calls() == []


def test_with_reset_the_job_asks_for_it_and_the_marker_splits_the_trace():
    job = qemu_job([("-M", "virt")], reset=True)
    assert "trace q0 1 '-accel'" in job
    assert "-monitor pipe:$mon" in job
    assert 'echo "# system_reset" >>$log' in job
    assert "ask $mon system_reset" in job
    log = [
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
        "vm0 KVM_CREATE_DEVICE type=8 flags=0 fd=10 ret=0 errno=0",
        "# system_reset",
        "vm0.its KVM_SET_DEVICE_ATTR flags=0 group=4 attr=0x4 addr=NULL ret=0 errno=0",
    ]
    (trace,) = qemu_results(_sections(log), [("-M", "virt")], "")
    assert trace.reset_at == 2
    assert len(trace.calls) == 3
    out = io.StringIO()
    print_traces([trace], out=out)
    assert out.getvalue().splitlines()[-2:] == [
        "# system_reset (monitor)",
        "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET, NULL) = 0",
    ]
    (plain,) = qemu_results(_sections(log[:2]), [("-M", "virt")], "")
    assert plain.reset_at is None


def _dist_writes(count, vm="vm0"):
    return [
        f"{vm}.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=1 attr=0x{4 * n:x} "
        f"value=0x0 ret=0 errno=0"
        for n in range(count)
    ]


def test_the_vgic_state_folds_as_run_folds_it_and_full_prints_each():
    log = [
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
        "vm0 KVM_CREATE_DEVICE type=7 flags=0 fd=10 ret=0 errno=0",
        *_dist_writes(FOLD_CALLS_AT + 2),
        "vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=1 attr=0x0 value=0x0 ret=-1 errno=6",
        *_dist_writes(FOLD_CALLS_AT - 1),
    ]
    (trace,) = qemu_results(_sections(log), [("-M", "virt")], "")
    out = io.StringIO()
    print_traces([trace], out=out)
    lines = out.getvalue().splitlines()

    n = FOLD_CALLS_AT + 2
    assert lines[4] == (
        f"KVM_SET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x{n}) = 0  [{n} calls]"
    )
    assert lines[5].endswith("-> ENXIO")  # a failure breaks the run, stays whole
    assert len(lines) == 6 + FOLD_CALLS_AT - 1  # one short of a fold: every line
    full = io.StringIO()
    print_traces([trace], full=True, out=full)
    assert len(full.getvalue().splitlines()) == 1 + len(log) + 1  # + "# vm0"


def test_a_fold_stops_at_the_reset_and_the_marker_survives_hidden_probes():
    log = [
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
        *_dist_writes(FOLD_CALLS_AT),
        "# system_reset",
        "sys KVM_CHECK_EXTENSION arg=25 ret=1 errno=0",
        *_dist_writes(FOLD_CALLS_AT),
    ]
    (trace,) = qemu_results(_sections(log), [("-M", "virt")], "")
    out = io.StringIO()
    print_traces([trace], out=out)
    folded = f"KVM_SET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x{FOLD_CALLS_AT}) = 0"
    assert out.getvalue().splitlines()[3:] == [
        f"{folded}  [{FOLD_CALLS_AT} calls]",
        "# system_reset (monitor)",
        f"{folded}  [{FOLD_CALLS_AT} calls]",
    ]
