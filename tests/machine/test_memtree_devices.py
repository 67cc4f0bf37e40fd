"""The device models and ``info mtree`` place the board from the same data.

Every region a device model maps starts where QEMU's tree has a region, in the
same address space: with ``secure=on`` flash0 and the secure UART, GPIO and
RAM are in the secure map only, never in the normal one.
"""

from __future__ import annotations

import struct

import pytest

from tests.machine.qemu_cmdline import virtmodel_config
from virtmodel.machine.boards.virt.board import VirtBoard, boot_virt, create_virt
from virtmodel.machine.boards.virt.memtree import virt_address_spaces
from virtmodel.machine.cli.main import main
from virtmodel.machine.fdt import Fdt
from virtmodel.machine.mtree import regions_in


@pytest.mark.parametrize(
    "text",
    [
        "-M virt",
        "-M virt,secure=on,virtualization=on -cpu max -smp 2",
        "-M virt,gic-version=3,secure=on,iommu=smmuv3 -cpu max -smp 4",
        "-M virt,gic-version=3 -smp 200 -m 2G,slots=1,maxmem=8G",
    ],
)
def test_device_regions_start_where_qemus_tree_has_regions(text: str) -> None:
    config = virtmodel_config(text.split())
    machine = boot_virt(create_virt(config))
    board = machine.board
    assert isinstance(board, VirtBoard)
    spaces = {s.name: s.root for s in virt_address_spaces(config)}
    normal = {start for start, _ in regions_in(spaces["memory"])}

    assert {r.base for r in machine.memory} <= normal
    if config.secure:
        secure_root = spaces["cpu-secure-memory-0"]
        secure_only = {
            secure_root.addr + mr.addr
            for mr in secure_root.subregions
            if mr.name != "system"
        }
        assert board.secure_memory is not None
        mapped = {r.base for r in board.secure_memory}
        assert mapped == secure_only
        assert not mapped & {r.base for r in machine.memory}
    else:
        assert board.secure_memory is None


def test_run_mtree_prints_qemus_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--mtree", "-M", "virt,secure=on", "-cpu", "max"]) == 0
    out = capsys.readouterr().out

    assert "address-space: cpu-secure-memory-0" in out
    assert "(prio -1, i/o): system" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-device", "virtio-iommu-pci"], "address-space: virtio-iommu-pci"),
        (["-accel", "kvm", "-cpu", "host", "-M", "gic-version=3"], "gicv3_dist"),
    ],
)
def test_run_mtree_prints_qemus_view_with_devices_and_under_kvm(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(["run", "--mtree", "-M", "virt", *argv]) == 0
    out = capsys.readouterr().out

    assert "address-space: cpu-memory-0" in out
    assert expected in out


@pytest.mark.parametrize(
    "text",
    [
        "-M virt",
        "-M virt,secure=on,virtualization=on -cpu max -smp 2",
        "-M virt,gic-version=3,secure=on,iommu=smmuv3 -cpu max -smp 4",
        "-M virt,gic-version=3 -smp 200 -m 2G,slots=1,maxmem=8G",
        "-M virt -accel kvm -cpu host -smp 2",
        "-M virt,gic-version=3 -accel kvm -cpu host -smp 4 -device virtio-iommu-pci",
        "-M virt-5.1,gic-version=3 -accel kvm -cpu host -smp 2",
    ],
)
def test_device_regions_have_qemus_sizes_too(text: str) -> None:
    machine = boot_virt(create_virt(virtmodel_config(text.split())))
    board = machine.board
    assert isinstance(board, VirtBoard)
    pvtime = "pvtime" in machine.memory
    spaces = {s.name: s.root for s in virt_address_spaces(board.config, pvtime=pvtime)}
    qemu = {(start, mr.size): mr.name for start, mr in regions_in(spaces["memory"])}

    for region in machine.memory:
        if region.name == "fw-cfg":
            # QEMU splits fw_cfg into its data, control and DMA registers.
            parts = [n for (s, _), n in qemu.items() if s - region.base in (0, 8, 16)]
            assert sorted(parts) == ["fwcfg.ctl", "fwcfg.data", "fwcfg.dma"]
            continue
        assert (region.base, region.size) in qemu, region


def test_gicv2_decodes_4k_and_8k_while_its_dt_frames_stay_64k() -> None:
    config = virtmodel_config(["-M", "virt,virtualization=on", "-cpu", "max"])
    machine = boot_virt(create_virt(config))
    sizes = {r.name: r.size for r in machine.memory if r.name.startswith("gic.")}
    assert sizes == {
        "gic.dist": 0x1000,
        "gic.cpu": 0x2000,
        "gic.hyp": 0x1000,
        "gic.vcpu": 0x2000,
    }
    board = machine.board
    assert isinstance(board, VirtBoard)
    assert board.dtb is not None
    fdt = Fdt.from_dtb(board.dtb)
    reg = fdt.getprop("/intc@8000000", "reg")
    assert struct.unpack(">8Q", reg)[1::2] == (0x10000,) * 4
