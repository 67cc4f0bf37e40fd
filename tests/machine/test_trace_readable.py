"""The printed machine trace reads like a story: alike lines folded, values decoded."""

from virtmodel.machine.boards.virt.board import boot_virt, create_virt, virt_board
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.explore import check_bring_up
from virtmodel.machine.trace import Kind, MachineTrace


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
