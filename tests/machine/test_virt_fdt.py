"""build_virt_fdt: phandles, seeds, boot arguments and composed peripherals."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from virtmodel.devices.pl011 import Pl011
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.tree import (
    build_virt_fdt,
    seed_bytes,
    virt_peripherals,
)

ROOT = Path(__file__).resolve().parents[2]


def v3(**changes: object) -> VirtConfig:
    base = VirtConfig.from_options("virt,gic-version=3", smp="4", memory="1G")
    return base.replace(**changes) if changes else base


def test_phandles_follow_qemus_allocation_order() -> None:
    fdt = build_virt_fdt(v3(cpu_type="cortex-a57", iommu="smmuv3"))

    got = {
        path: fdt.get_phandle(path)
        for path in ("/apb-pclk", "/cpus/cpu@3", "/cpus/cpu@0", "/intc", "/intc/its",
                     "/smmuv3@9050000", "/pl061@9030000")
    }  # fmt: skip

    assert got == {
        "/apb-pclk": 0x8000,
        "/cpus/cpu@3": 0x8001,
        "/cpus/cpu@0": 0x8004,
        "/intc": 0x8005,
        "/intc/its": 0x8006,
        "/smmuv3@9050000": 0x8007,
        "/pl061@9030000": 0x8008,
    }


def test_a_seed_makes_kaslr_and_rng_seeds_reproducible() -> None:
    config = v3(dtb_randomness=True)

    a, b = build_virt_fdt(config, seed=7), build_virt_fdt(config, seed=7)
    c = build_virt_fdt(config, seed=8)

    assert a.to_dtb() == b.to_dtb()
    assert a.getprop("/chosen", "kaslr-seed") == seed_bytes(7)[:8]
    assert a.getprop("/chosen", "rng-seed") == seed_bytes(7)[8:]
    assert c.getprop("/chosen", "rng-seed") != a.getprop("/chosen", "rng-seed")


def test_without_a_seed_every_build_draws_new_randomness() -> None:
    config = v3(dtb_randomness=True)

    seeds = {build_virt_fdt(config).getprop("/chosen", "rng-seed") for _ in range(3)}

    assert len(seeds) == 3


def test_dtb_randomness_off_leaves_the_seeds_out() -> None:
    props = build_virt_fdt(v3(dtb_randomness=False), seed=1).root.subnode("chosen")

    assert props is not None
    assert list(props.props) == ["stdout-path"]


def test_secure_chosen_gets_its_own_seeds() -> None:
    fdt = build_virt_fdt(v3(secure=True, cpu_type="max", dtb_randomness=True), seed=3)

    assert fdt.getprop("/secure-chosen", "rng-seed") != fdt.getprop(
        "/chosen", "rng-seed"
    )
    assert fdt.getprop("/secure-chosen", "stdout-path") == b"/pl011@9040000\0"


def test_kernel_command_line_and_initrd_go_into_chosen() -> None:
    fdt = build_virt_fdt(
        v3(), kernel_cmdline="console=ttyAMA0", initrd=(0x48000000, 0x100)
    )

    assert fdt.getprop("/chosen", "bootargs") == b"console=ttyAMA0\0"
    assert fdt.getprop("/chosen", "linux,initrd-start") == bytes.fromhex("48000000")
    assert fdt.getprop("/chosen", "linux,initrd-end") == bytes.fromhex("48000100")


def test_an_empty_command_line_writes_no_bootargs() -> None:
    fdt = build_virt_fdt(v3(), kernel_cmdline="")

    assert "bootargs" not in fdt.node("/chosen").props


def test_psci_node_follows_the_final_conduit() -> None:
    secure = v3(secure=True, cpu_type="max")

    without_kernel = build_virt_fdt(secure)
    with_kernel = build_virt_fdt(secure.replace(kernel="Image"))

    assert not without_kernel.exists("/psci")
    assert without_kernel.getprop("/cpus/cpu@0", "enable-method") == b"psci\0"
    assert with_kernel.getprop("/psci", "method") == b"hvc\0"


def test_a_composed_board_gets_nodes_from_its_own_devices() -> None:
    config = v3()
    parts = virt_peripherals(config)
    moved = Pl011("uart0", base=0x9100000, size=0x1000, irq=5)
    custom = dataclasses.replace(parts, uart=moved)

    fdt = build_virt_fdt(config, peripherals=custom)

    assert fdt.getprop("/pl011@9100000", "interrupts") == bytes.fromhex(
        "00000000 00000005 00000004"
    )
    assert fdt.getprop("/chosen", "stdout-path") == b"/pl011@9100000\0"
    assert not fdt.exists("/pl011@9000000")


@pytest.mark.slow
def test_bytes_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "import hashlib, sys\n"
        "from virtmodel.machine.boards.virt.config import VirtConfig\n"
        "from virtmodel.machine.boards.virt.tree import build_virt_fdt\n"
        "c = VirtConfig.from_options('virt,gic-version=3,secure=on', smp='8,sockets=2,"
        "threads=2', memory='1G,slots=1,maxmem=4G', cpu='max')\n"
        "blob = build_virt_fdt(c, seed=5).to_dtb()\n"
        "sys.stdout.write(hashlib.sha256(blob).hexdigest())\n"
    )
    digests = set()
    for hashseed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        digests.add(out.stdout)

    assert len(digests) == 1
