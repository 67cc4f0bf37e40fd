"""Drawn, not only listed: random QEMU command lines against the live QEMU.

Each draw builds a command line from the options virtmodel models (repeated
-M/-smp/-m split at random so merging is exercised, CPU properties, boot
images, -device, options that change nothing), and QEMU decides: both must
refuse, or both accept with byte-identical device trees.

The seed is fixed under CI (reproducible runs) and fresh otherwise; set
``VIRTMODEL_DRAW_SEED`` to replay one and ``VIRTMODEL_DRAWS`` for more draws.
A failure prints the seed, the draw's index and its command line.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.conftest import in_ci, require_tool
from tests.machine.qemu_cmdline import compare
from virtmodel.machine.boards.virt.versions import MACHINE_TYPES

pytestmark = pytest.mark.external

#: Draws per run: enough to meet every option, few enough for CI.
DEFAULT_DRAWS = 40
CI_SEED = 20260

_MACHINE_KEYS = {
    "gic-version": ("2", "3", "4", "max", "host"),
    "its": ("on", "off"),
    "highmem": ("on", "off"),
    "secure": ("on", "off"),
    "virtualization": ("on", "off"),
    "iommu": ("none", "smmuv3"),
    "default-bus-bypass-iommu": ("on", "off"),
    "mte": ("on", "off"),
    "acpi": ("on", "off", "auto"),
    "ras": ("on", "off"),
    "usb": ("on", "off"),
    "graphics": ("on", "off"),
    "mem-merge": ("on", "off"),
    "dump-guest-core": ("on", "off"),
    "suppress-vmdesc": ("on", "off"),
    "dt-compatible": ("foo,bar",),
    "phandle-start": ("0x100", "0"),
}
_CPUS = (
    "cortex-a7",
    "cortex-a15",
    "cortex-a35",
    "cortex-a53",
    "cortex-a57",
    "cortex-a72",
    "cortex-a76",
    "a64fx",
    "neoverse-n1",
    "max",
)
_CPU_PROPS = ("pmu=off", "pmu=on", "sve=off", "pauth=off", "lpa2=off", "sme=off")
_SMP_KEYS = ("sockets", "clusters", "cores", "threads", "maxcpus")


def _split(rng: random.Random, option: str, keys: list[str]) -> list[str]:
    """Spread *keys* over one to three occurrences of *option*."""
    if not keys:
        return []
    parts = rng.randint(1, min(3, len(keys)))
    groups: list[list[str]] = [[] for _ in range(parts)]
    for key in keys:
        groups[rng.randrange(parts)].append(key)
    return [item for group in groups if group for item in (option, ",".join(group))]


def draw_argv(rng: random.Random, files: dict[str, str]) -> list[str]:
    """Return one drawn command line (QEMU spelling)."""
    machine = [rng.choice(("virt", "virt-7.2", *rng.sample(MACHINE_TYPES, 2)))]
    for key in rng.sample(sorted(_MACHINE_KEYS), rng.randint(0, 5)):
        machine.append(f"{key}={rng.choice(_MACHINE_KEYS[key])}")
    if rng.random() < 0.2:
        # A key given again later: the last one counts.
        key = rng.choice(("its", "highmem", "gic-version"))
        machine.append(f"{key}={rng.choice(_MACHINE_KEYS[key])}")
    argv = ["-M", machine[0], *_split(rng, "-M", machine[1:])]
    if rng.random() < 0.8:
        smp = [str(rng.choice((1, 2, 3, 4, 8, 9, 16, 64, 124, 200)))]
        smp += [
            f"{key}={rng.choice((1, 2, 4, 8))}"
            for key in rng.sample(_SMP_KEYS, rng.randint(0, 2))
        ]
        argv += _split(rng, "-smp", smp)
    if rng.random() < 0.7:
        memory = [rng.choice(("128M", "256M", "1G", "2G", "3G"))]
        if rng.random() < 0.3:
            memory += [
                f"slots={rng.randint(1, 2)}",
                rng.choice(("maxmem=4G", "maxmem=64G")),
            ]
        argv += _split(rng, "-m", memory)
    if rng.random() < 0.8:
        cpu = [rng.choice(_CPUS), *rng.sample(_CPU_PROPS, rng.choice((0, 0, 1, 2)))]
        argv += ["-cpu", ",".join(cpu)]
    if rng.random() < 0.3:
        argv += ["-accel", rng.choice(("tcg", "tcg,thread=single", "tcg,thread=multi"))]
    if rng.random() < 0.1:
        argv += ["-accel", "bogus", "-accel", "tcg"]
    if rng.random() < 0.3:
        argv += ["-kernel", files["kernel"]]
        if rng.random() < 0.5:
            argv += ["-initrd", files["initrd"]]
        if rng.random() < 0.5:
            argv += ["-append", "console=ttyAMA0"]
    if rng.random() < 0.15:
        argv += ["-bios", files["bios"]]
    if rng.random() < 0.2:
        argv += [
            "-device",
            rng.choice(("virtio-iommu-pci", "virtio-iommu-pci,addr=0x4")),
        ]
    if rng.random() < 0.15:
        argv += ["-device", f"guest-loader,addr=0x48000000,kernel={files['kernel']}"]
    if rng.random() < 0.15:
        # Two NUMA nodes of 1 GiB; the later -m 2G merges over any drawn size.
        argv += ["-m", "2G"]
        for name in ("m0", "m1"):
            argv += ["-object", f"memory-backend-ram,id={name},size=1G"]
        argv += ["-numa", "node,memdev=m0" + rng.choice(("", ",cpus=0"))]
        argv += ["-numa", "node,memdev=m1"]
        if rng.random() < 0.5:
            argv += ["-numa", f"dist,src=0,dst=1,val={rng.choice((15, 20, 9))}"]
    for option, value in (("-display", "none"), ("-serial", "null"), ("-net", "none")):
        if rng.random() < 0.1:
            argv += [option, value]
    return argv


def _seed() -> int:
    given = os.environ.get("VIRTMODEL_DRAW_SEED")
    if given:
        return int(given)
    return CI_SEED if in_ci() else random.SystemRandom().randrange(1 << 32)


def test_drawn_command_lines_agree_with_qemu(tmp_path: Path) -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    files = {"kernel": 4096, "initrd": 100_000, "bios": 65536}
    paths = {}
    for name, size in files.items():
        path = tmp_path / name
        path.write_bytes(bytes([len(name)]) * size)
        paths[name] = str(path)
    seed = _seed()
    draws = int(os.environ.get("VIRTMODEL_DRAWS", DEFAULT_DRAWS))
    rng = random.Random(seed)
    failures = []
    for index in range(draws):
        argv = draw_argv(rng, paths)
        problem = compare(argv, tmp_path)
        if problem is not None:
            failures.append(f"draw {index}: {' '.join(argv)}\n  {problem}")
    assert not failures, (
        f"VIRTMODEL_DRAW_SEED={seed}: {len(failures)} of {draws} draws disagree\n"
        + "\n".join(failures)
    )
