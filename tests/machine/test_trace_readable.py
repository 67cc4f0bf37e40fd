"""The printed machine trace reads like a story: alike lines folded, values decoded."""

import re
from collections import Counter

from virtmodel.machine.boards.virt.board import boot_virt, create_virt, virt_board
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.explore import check_bring_up
from virtmodel.machine.trace import FOLD_CALLS_AT, Kind, MachineTrace


def test_the_32_virtio_mmio_realize_lines_print_as_one():
    machine = create_virt(VirtConfig.from_options("virt", smp="2"))
    boot_virt(machine)

    text = str(machine.trace)
    virtio = [e for e in machine.trace.of_kind(Kind.DEVICE) if "virtio-mmio" in e.text]
    assert len(virtio) == 32
    assert sum("virtio-mmio" in line for line in text.splitlines()) == 1
    first, last = virtio[0].seq, virtio[-1].seq
    assert (
        f"{first:4d}    realize /machine/virtio-mmio{{0..31}} (virtio-mmio)"
        f"  [32 alike: #{first}-#{last}]"
    ) in text
    # Nothing is lost: the unfolded text and the JSON keep every entry.
    unfolded = machine.trace.format(fold=False).splitlines()
    assert sum("virtio-mmio" in line for line in unfolded) == 32
    assert sum("virtio-mmio" in d["text"] for d in machine.trace.as_dicts()) == 32


def test_only_runs_counting_up_in_one_number_fold():
    trace = MachineTrace()
    for text in ("dev a0", "dev a1", "dev a2", "dev a3", "dev a5", "dev b6"):
        trace.add(Kind.DEVICE, text)
    trace.add(Kind.DEVICE, "dev a7", ok=False)
    for n in range(4):
        trace.add(Kind.NOTE, f"note {n}")

    lines = str(trace).splitlines()
    assert lines[0] == "   1    dev a{0..3}  [4 alike: #1-#4]"
    assert [line.split()[-1] for line in lines[1:4]] == ["a5", "b6", "a7"]
    assert len(lines) == 1 + 3 + 4  # failures and notes are never folded


def test_a_redistributor_region_is_decoded_next_to_its_raw_value():
    config = VirtConfig.from_options(
        "virt,gic-version=3", smp="4", memory="1G", cpu="cortex-a57", accel="kvm"
    )
    machine = create_virt(config)
    boot_virt(machine)

    (line,) = [
        e.text
        for e in machine.trace.of_kind(Kind.KVM)
        if "SET_DEVICE_ATTR" in e.text and "REDIST_REGION" in e.text
    ]
    assert "0x400000080a0000 {base=0x080a0000, count=4, index=0}" in line


def test_explore_state_shows_addresses_in_hex():
    config = VirtConfig.from_options(
        "virt,gic-version=3,its=on", smp="4", memory="1G", cpu="cortex-a57", accel="kvm"
    )
    machine = create_virt(config, its_init="init-done", seed=0)
    machine.create()
    machine.create_accel()
    machine.init_board(virt_board(machine).init)
    machine.enter_ready()
    machine.init_done.notify()

    fingerprint = check_bring_up(machine)
    assert isinstance(fingerprint, tuple)
    ended, accepted = fingerprint
    assert ended == "first vCPU run ok"
    assert "kvm.its.addr=0x08080000" in accepted
    assert "kvm.vgic.nr_irqs=288" in accepted


def _call(trace, ioctl, device, group=None, result=0, ok=True):
    text = f"{ioctl}({device}{', ' + group if group else ''}) = {result}"
    return trace.add(
        Kind.KVM, text, ok=ok, ioctl=ioctl, device=device, group=group, result=result
    )


def test_the_gic_state_written_back_at_reset_prints_as_one_counted_line():
    config = VirtConfig.from_options(
        "virt,gic-version=3,its=on", smp="4", memory="1G", cpu="cortex-a57", accel="kvm"
    )
    machine = create_virt(config)
    boot_virt(machine)
    entries = list(machine.trace)
    reset = next(e.seq for e in entries if e.text == "system reset")

    (line,) = [
        line
        for line in str(machine.trace).splitlines()
        if "calls: #" in line and "KVM_SET_DEVICE_ATTR(vgic-v3" in line
    ]
    span = re.search(r"\[(\d+) calls: #(\d+)-#(\d+)\]$", line)
    assert span is not None
    count, first, last = (int(n) for n in span.groups())
    run = entries[first - 1 : last]
    assert first > reset
    assert {e.text.split(",")[0] for e in run} == {"KVM_SET_DEVICE_ATTR(vgic-v3"}
    groups = Counter(e.data["group"] for e in run)
    counted = ", ".join(f"{g} x{n}" for g, n in groups.items())
    assert line.split(maxsplit=1)[1] == (
        f"KVM_SET_DEVICE_ATTR(vgic-v3, {counted}) = 0  [{len(run)} calls: #{first}-#{last}]"
    )
    assert count == len(run) > 500
    # The entries either side are not part of the run.
    assert not entries[first - 2].text.startswith("KVM_SET_DEVICE_ATTR(vgic-v3")
    assert entries[last].text == "vCPUs start"
    # Nothing is lost: unfolded text and JSON keep every call.
    assert len(machine.trace.format(fold=False).splitlines()) == len(entries)
    assert len(machine.trace.as_dicts()) == len(entries)


def test_a_failed_call_breaks_a_run_and_short_runs_stay_whole():
    trace = MachineTrace()
    for _ in range(FOLD_CALLS_AT):
        _call(trace, "KVM_SET_DEVICE_ATTR", "vgic-v3", "GRP_DIST_REGS")
    _call(
        trace, "KVM_SET_DEVICE_ATTR", "vgic-v3", "GRP_DIST_REGS", result=None, ok=False
    )
    for _ in range(FOLD_CALLS_AT - 1):
        _call(trace, "KVM_SET_DEVICE_ATTR", "vgic-v3", "GRP_DIST_REGS")

    lines = str(trace).splitlines()
    assert lines[0] == (
        f"   1    KVM_SET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x{FOLD_CALLS_AT}) = 0"
        f"  [{FOLD_CALLS_AT} calls: #1-#{FOLD_CALLS_AT}]"
    )
    assert lines[1].startswith(f"{FOLD_CALLS_AT + 1:4d} !! ")
    assert len(lines) == 2 + FOLD_CALLS_AT - 1  # one short of a fold: every line


def test_a_run_folds_by_ioctl_and_fd_and_says_when_results_differ():
    trace = MachineTrace()
    for n in range(FOLD_CALLS_AT):
        _call(trace, "KVM_GET_DEVICE_ATTR", "vgic-v3", "GRP_DIST_REGS", result=n)
    for _ in range(FOLD_CALLS_AT):
        _call(trace, "KVM_IOEVENTFD", "vm")
    for _ in range(FOLD_CALLS_AT):
        _call(trace, "KVM_IOEVENTFD", "vcpu0")  # another fd: another run

    assert str(trace).splitlines() == [
        f"   1    KVM_GET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x{FOLD_CALLS_AT}):"
        f" each succeeded  [{FOLD_CALLS_AT} calls: #1-#16]",
        "  17    KVM_IOEVENTFD(vm) = 0  [16 calls: #17-#32]",
        "  33    KVM_IOEVENTFD(vcpu0) = 0  [16 calls: #33-#48]",
    ]


def test_run_says_what_it_folded_and_full_prints_every_entry(capsys):
    from virtmodel.machine.cli.main import main

    argv = ["run", "-M", "virt,gic-version=3", "-smp", "2", "-cpu", "cortex-a57",
            "-accel", "kvm"]  # fmt: skip
    assert main(argv) == 0
    folded = capsys.readouterr().out.splitlines()
    assert main([*argv, "--full"]) == 0
    full = capsys.readouterr().out.splitlines()

    entries = len(full) - 2  # the two header lines
    assert folded[1].endswith(
        f"; {entries} entries in {len(folded) - 2} lines, --full prints each"
    )
    assert len(folded) < entries / 3
    assert not full[1].endswith("--full prints each")
    assert [line.split()[0] for line in full[2:]] == [
        str(n) for n in range(1, entries + 1)
    ]


def test_kvm_entries_without_the_calls_fields_never_fold():
    trace = MachineTrace()
    for n in range(FOLD_CALLS_AT):
        trace.add(Kind.KVM, f"KVM_SOMETHING({n}) = 0", result=0)

    assert len(str(trace).splitlines()) == FOLD_CALLS_AT
