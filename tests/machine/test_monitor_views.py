"""``info mtree [-f]`` and ``info qtree`` as QEMU 7.2's monitor prints them.

Against captures under tests/golden/monitor/ (refresh with
``python -m tests.golden.capture_monitor``) and against the live QEMU.
QEMU prints the groups of ``info mtree`` in a random order, so both sides are
compared group by group (:func:`virtmodel.machine.mtree.blocks`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.golden.capture_monitor import VIEWS, argv_for, normalise
from tests.machine.qemu_cmdline import virtmodel_config
from tests.support.qemu_monitor import monitor, qtree_mismatch
from virtmodel.machine.boards.virt.memtree import virt_address_spaces
from virtmodel.machine.boards.virt.qtree import format_qtree
from virtmodel.machine.cli.main import main
from virtmodel.machine.mtree import (
    blocks,
    flatten,
    flatview_root,
    format_flat,
    format_mtree,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "monitor"
INDEX: dict[str, Any] = json.loads((GOLDEN / "index.json").read_text())


def ours(view: str, argv: list[str]) -> str:
    config = virtmodel_config(argv)
    if view == "qtree":
        return format_qtree(config)
    spaces = virt_address_spaces(config)
    return format_flat(spaces) if view == "mtree-f" else format_mtree(spaces)


@pytest.fixture
def bios(tmp_path: Path) -> Path:
    path = tmp_path / "bios.bin"
    path.write_bytes(bytes(65536))
    return path


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("name", sorted(INDEX["cases"]))
def test_matches_the_captured_monitor_output(name: str, view: str, bios: Path) -> None:
    golden = (GOLDEN / f"{name}.{view}.txt").read_text()
    text = ours(view, argv_for(name, bios))

    if view == "qtree":
        assert qtree_mismatch(text, golden) is None
    else:
        assert normalise(view, text) == golden


@pytest.mark.external
@pytest.mark.parametrize(
    "text",
    [
        "-M virt",
        "-M virt,gic-version=3,secure=on,iommu=smmuv3 -cpu max -smp 3 -m 2G",
        "-M virt,gic-version=max,highmem=off -cpu max -smp 4,maxcpus=8",
        "-M virt,virtualization=on,secure=on,mte=on -cpu max -m 512M",
        "-M virt,gic-version=3 -smp 200 -m 2G",
        "-M virt,gic-version=3 -cpu max -bios {bios} -m 1G,slots=2,maxmem=4G",
        "-M virt -smp 2 -device virtio-iommu-pci,addr=1f.7",
        "-M virt,gic-version=3,iommu=smmuv3 -m 1G -object memory-backend-ram,id=a,"
        "size=512M -object memory-backend-ram,id=b,size=512M -numa node,memdev=b"
        " -numa node,memdev=a -numa dist,src=0,dst=1,val=15"
        " -device guest-loader,addr=0x48000000,kernel={bios},bootargs=x",
    ],
)
def test_matches_the_live_qemu(text: str, bios: Path) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    argv = text.format(bios=bios).split()
    answers = monitor(qemu, argv, list(VIEWS.values()))

    for view, theirs in zip(VIEWS, answers, strict=True):
        mine = ours(view, argv)
        if view == "qtree":
            assert qtree_mismatch(mine, theirs) is None
        else:
            flat = view == "mtree-f"
            assert blocks(mine, flat=flat) == blocks(theirs, flat=flat), view


def test_secure_only_devices_live_only_in_the_secure_address_space() -> None:
    spaces = virt_address_spaces(
        virtmodel_config(["-M", "virt,secure=on", "-cpu", "max"])
    )
    views = {s.name: flatten(flatview_root(s.root)) for s in spaces}

    normal = {(r.start, r.mr.name) for r in views["memory"]}
    secure = {(r.start, r.mr.name) for r in views["cpu-secure-memory-0"]}
    only_secure = {
        (0x0, "virt.flash0"),
        (0x09040000, "pl011"),
        (0x090B0000, "pl061"),
        (0x0E000000, "virt.secure-ram"),
    }
    assert only_secure <= secure
    assert not only_secure & normal
    assert normal <= secure  # the normal world shows through underneath


def test_gicv2_regions_have_qemus_sizes() -> None:
    text = ours("mtree", ["-M", "virt"])

    assert "0000000008000000-0000000008000fff (prio 0, i/o): gic_dist" in text
    assert "0000000008010000-0000000008011fff (prio 0, i/o): gic_cpu" in text


def test_group_order_does_not_matter_but_content_does() -> None:
    text = ours("mtree", ["-M", "virt"])
    groups = text.split("\n\n")
    shuffled = "\n\n".join([*groups[1:-1], groups[0]]) + "\n"

    assert blocks(shuffled) == blocks(text)
    assert blocks(text.replace("gic_cpu", "gic_cpu0")) != blocks(text)


def test_a_wrong_qtree_property_is_caught() -> None:
    config = virtmodel_config(["-M", "virt"])
    right = format_qtree(config)
    wrong = right.replace("num-cpu = 1 (0x1)", "num-cpu = 2 (0x2)")

    assert qtree_mismatch(right, right) is None
    assert "num-cpu" in (qtree_mismatch(wrong, right) or "")


# Under KVM QEMU cannot run here; these facts come from QEMU 7.2's sources
# (docs/monitor.md): the KVM GIC classes create the regions the TCG ones do
# (same names and sizes) and the board maps them alike, but only a GIC QEMU
# emulates itself gets ``has-lpi`` and the ITS's ``gicv3-its-sysmem`` space.


@pytest.mark.parametrize(
    "machine",
    ["virt", "virt,gic-version=3", "virt,gic-version=3,its=off", "virt,iommu=smmuv3"],
)
def test_kvm_mtree_is_tcgs_without_the_its_dma_space(machine: str) -> None:
    argv = ["-M", machine, "-cpu", "max", "-smp", "2"]
    tcg = ours("mtree", argv)
    kvm = ours("mtree", [*argv, "-accel", "kvm"])

    assert kvm == tcg.replace("address-space: gicv3-its-sysmem\n", "")
    assert ours("mtree-f", [*argv, "-accel", "kvm"]) == ours("mtree-f", argv).replace(
        ' AS "gicv3-its-sysmem", root: system\n', ""
    )


@pytest.mark.parametrize(
    ("machine", "types"),
    [
        ("virt", ["kvm-arm-gic", "arm-gicv2m"]),
        ("virt,gic-version=3", ["arm-its-kvm", "kvm-arm-gicv3"]),
    ],
)
def test_kvm_qtree_names_the_kernels_gic_classes(
    machine: str, types: list[str]
) -> None:
    argv = ["-M", machine, "-cpu", "max", "-smp", "2"]
    kvm = ours("qtree", [*argv, "-accel", "kvm"])
    tcg = ours("qtree", argv)

    for name in types:
        assert f"  dev: {name}, id" in kvm
    assert "has-lpi" not in kvm
    renamed = (
        tcg.replace("dev: arm_gic,", "dev: kvm-arm-gic,")
        .replace("dev: arm-gicv3,", "dev: kvm-arm-gicv3,")
        .replace("dev: arm-gicv3-its,", "dev: arm-its-kvm,")
        .replace("    has-lpi = true\n", "")
    )
    assert kvm == renamed


def test_info_subcommand_prints_the_views(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "mtree", "-M", "virt,gic-version=3"]) == 0
    tree = capsys.readouterr().out
    assert "address-space: gicv3-its-sysmem" in tree
    assert main(["info", "mtree", "-f", "-M", "virt"]) == 0
    assert capsys.readouterr().out.startswith("FlatView #0\n")
    assert main(["info", "qtree", "-M", "virt"]) == 0
    assert capsys.readouterr().out.startswith("bus: main-system-bus\n  type System\n")


@pytest.mark.parametrize(
    ("semantics", "gic"), [("v6.1", "gicv3_dist"), ("v4.8", "gic_dist")]
)
def test_kvm_without_gic_version_shows_the_gic_the_simulated_host_gives(
    capsys: pytest.CaptureFixture[str], semantics: str, gic: str
) -> None:
    argv = ["-M", "virt", "-accel", "kvm", "-cpu", "host"]
    assert main(["info", "mtree", *argv, "--kernel-semantics", semantics]) == 0
    info = capsys.readouterr().out
    assert main(["run", "--mtree", *argv, "--kernel-semantics", semantics]) == 0
    run = capsys.readouterr().out

    assert f"): {gic}\n" in info
    assert run.endswith(info)


@pytest.mark.parametrize(
    ("machine", "semantics", "pvtime"),
    [
        ("virt", "v6.1", True),  # the lab's kernel offers stolen time
        ("virt-5.2", "v6.1", True),
        ("virt-5.1", "v6.1", False),  # the type predates stolen time
        ("virt", "v4.8", False),  # the 2016 kernels lack it
    ],
)
def test_kvm_mtree_has_the_pvtime_ram_when_the_vcpus_steal_time(
    capsys: pytest.CaptureFixture[str], machine: str, semantics: str, pvtime: bool
) -> None:
    argv = [
        "-M",
        machine,
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "--kernel-semantics",
        semantics,
    ]
    assert main(["info", "mtree", *argv]) == 0
    info = capsys.readouterr().out
    assert main(["run", "--mtree", *argv]) == 0
    run = capsys.readouterr().out

    line = "    00000000090a0000-00000000090a0fff (prio 0, ram): pvtime\n"
    assert (line in info) is pvtime
    assert ("PVTIME_IPA" in run) is pvtime
    assert run.endswith(info)


def test_info_under_the_host_backend_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "info",
        "mtree",
        "-M",
        "virt",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "--kvm",
        "host",
    ]

    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "info answers for the simulated kernel" in err[0]
