"""Capture ``info mtree``, ``info mtree -f`` and ``info qtree`` from QEMU 7.2.

Run from the repository root: ``python -m tests.golden.capture_monitor [NAME ...]``.
Each case in :data:`CASES` is a QEMU argument list (``{bios}`` stands for a
firmware file made on the spot); QEMU is started stopped and asked through its
monitor. The answers are stored as ``monitor/<name>.<view>.txt`` with the
groups sorted (QEMU prints them in a different order each run), and
``monitor/index.json`` records the arguments.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final

from tests.support.qemu_monitor import monitor
from virtmodel.machine.mtree import blocks

HERE: Final = Path(__file__).resolve().parent / "monitor"
INDEX: Final = HERE / "index.json"

#: name -> QEMU arguments (split on spaces).
CASES: Final[dict[str, str]] = {
    "defaults": "-M virt",
    "v2_virt_smp2": "-M virt,virtualization=on -cpu max -smp 2",
    "v2_secure": "-M virt,secure=on -cpu max",
    "v3_its_smp2": "-M virt,gic-version=3 -smp 2",
    "v3_noits_nohighmem": "-M virt,gic-version=3,its=off,highmem=off",
    "v3_smp124_maxmem": "-M virt,gic-version=3 -smp 124 -m 1G,slots=1,maxmem=400G -cpu max",
    "v4_virt_smp3": "-M virt,gic-version=4,virtualization=on -cpu max -smp 3",
    "smmu": "-M virt,iommu=smmuv3",
    "smmu_bypass": "-M virt,iommu=smmuv3,default-bus-bypass-iommu=on",
    "mte_secure_smmu": "-M virt,mte=on,secure=on,iommu=smmuv3 -cpu max",
    "mte": "-M virt,mte=on -cpu max -m 1G",
    "bios_acpi_slots": "-M virt,gic-version=3 -cpu max -bios {bios} -m 1G,slots=1,maxmem=2G",
    "bios_acpi_off": "-M virt,acpi=off -cpu max -bios {bios}",
    "v3_secure_virt": "-M virt,gic-version=3,secure=on,virtualization=on -cpu max -smp 4",
    "virtio_iommu_v3": "-M virt,gic-version=3 -smp 2 -device virtio-iommu-pci,addr=3.2",
    "virtio_iommu_bypass": "-M virt,default-bus-bypass-iommu=on -device virtio-iommu-pci",
    "numa_loader": "-M virt,gic-version=3 -smp 4 -m 2G"
    " -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G"
    " -numa node,memdev=m1,cpus=0-1 -numa node -numa node,memdev=m0,cpus=2-3"
    " -device guest-loader,addr=0x48000000,kernel={bios}",
}
VIEWS: Final = {
    "mtree": "info mtree",
    "mtree-f": "info mtree -f",
    "qtree": "info qtree",
}


def argv_for(name: str, bios: Path) -> list[str]:
    """Return the argument list of case *name* with its firmware file."""
    return CASES[name].format(bios=bios).split()


def normalise(view: str, text: str) -> str:
    """Return *text* with QEMU's randomly ordered groups sorted."""
    if view == "qtree":
        return text
    return "\n\n".join(blocks(text, flat=view == "mtree-f")) + "\n"


def main(names: list[str]) -> int:
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        print("qemu-system-aarch64 is not installed", file=sys.stderr)
        return 1
    HERE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bios = Path(tmp) / "bios.bin"
        bios.write_bytes(bytes(65536))
        for name in names or sorted(CASES):
            answers = monitor(qemu, argv_for(name, bios), list(VIEWS.values()))
            for view, text in zip(VIEWS, answers, strict=True):
                (HERE / f"{name}.{view}.txt").write_text(normalise(view, text))
            print(f"captured {name}")
    INDEX.write_text(json.dumps({"qemu": "7.2", "cases": CASES}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
