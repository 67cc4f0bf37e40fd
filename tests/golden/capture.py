"""Capture golden DTBs from the real ``qemu-system-aarch64`` 7.2.

Run from the repository root: ``python -m tests.golden.capture [NAME ...]``.
Each case in :data:`CASES` is dumped with ``dumpdtb`` and
``dtb-randomness=off`` (so the blob is reproducible), stored gzip-compressed
(``mtime`` 0, so re-capturing unchanged output leaves git clean) as
``<name>.dtb.gz``, and described in ``index.json`` with the options that made
it. The tests rebuild each blob from the same options and compare bytes.
``virt.dts`` is dtc's decompile of the ``defaults`` case (QEMU's plain
``-M virt``), the reference for our DTS writer.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
INDEX: Final = HERE / "index.json"

# name -> (-M options after "virt", -smp, -m, -cpu); None means QEMU's default.
CASES: Final[dict[str, tuple[str, str | None, str | None, str | None]]] = {
    "defaults": ("", None, None, None),
    "v2_smp4_1g": ("gic-version=2", "4", "1G", None),
    "v2_smp1_1g": ("gic-version=2", "1", "1G", None),
    "v2_smp8": ("gic-version=2", "8", "1G", None),
    "v2_virt_smp4": ("gic-version=2,virtualization=on", "4", "1G", None),
    "v2_secure_smp2": ("gic-version=2,secure=on", "2", "1G", None),
    "v2_a57_smp4": ("gic-version=2", "4", "1G", "cortex-a57"),
    "v3_its_smp1": ("gic-version=3,its=on", "1", "1G", None),
    "v3_its_smp2": ("gic-version=3,its=on", "2", "1G", None),
    "v3_its_smp4": ("gic-version=3,its=on", "4", "1G", None),
    "v3_noits_smp4": ("gic-version=3,its=off", "4", "1G", None),
    "v3_its_smp8": ("gic-version=3", "8", "1G", None),
    "v3_its_smp64": ("gic-version=3", "64", "1G", None),
    "v3_its_smp123": ("gic-version=3", "123", "1G", None),
    "v3_its_smp124": ("gic-version=3", "124", "1G", None),
    "v3_its_smp200": ("gic-version=3", "200", "1G", None),
    "v3_a57_smp512": ("gic-version=3,its=on", "512", "1G", "cortex-a57"),
    "v3_smp512": ("gic-version=3", "512", "1G", None),
    "v4_virt_smp317": ("gic-version=4,virtualization=on", "317", "1G", "max"),
    "v4_virt_smp62": ("gic-version=4,virtualization=on", "62", "1G", "max"),
    "max_smp4": ("gic-version=max", "4", "1G", "max"),
    "max_virt_smp4": ("gic-version=max,virtualization=on", "4", "1G", "max"),
    "v3_mem128m": ("gic-version=3", "2", "128M", "cortex-a57"),
    "v3_mem4g": ("gic-version=3", "4", "4G", "cortex-a57"),
    "v3_nohighmem_1g": ("gic-version=3,highmem=off", "4", "1G", "cortex-a57"),
    "v3_nohighmem_3g": ("gic-version=3,highmem=off", "4", "3G", None),
    "v2_nohighmem_3g": ("gic-version=2,highmem=off", "2", "3G", None),
    "v3_slots_maxmem8g": ("gic-version=3", "4", "1G,slots=2,maxmem=8G", "cortex-a57"),
    "v3_maxmem400g": ("gic-version=3", "4", "1G,slots=1,maxmem=400G", "cortex-a57"),
    "v3_maxmem1000g": ("gic-version=3", "4", "1G,slots=1,maxmem=1000G", "cortex-a57"),
    "a15_maxmem600g": ("gic-version=3", "4", "1G,slots=1,maxmem=600G", None),
    "v3_smp124_maxmem400g": ("gic-version=3", "124", "1G,slots=1,maxmem=400G", "max"),
    "v3_secure_smp4": ("gic-version=3,secure=on", "4", "1G", "max"),
    "v3_virt_smp4": ("gic-version=3,virtualization=on", "4", "1G", "max"),
    "v3_secure_virt_smp4": (
        "gic-version=3,secure=on,virtualization=on",
        "4",
        "1G",
        "max",
    ),
    "v3_smmuv3_smp4": ("gic-version=3,iommu=smmuv3", "4", "1G", "cortex-a57"),
    "v3_smmuv3_bypass": (
        "gic-version=3,iommu=smmuv3,default-bus-bypass-iommu=on",
        "4",
        "1G",
        "cortex-a57",
    ),
    "v3_smmuv3_secure": ("gic-version=3,iommu=smmuv3,secure=on", "2", "1G", "max"),
    "v3_topo_threads": ("gic-version=3", "8,sockets=2,cores=2,threads=2", "1G", "max"),
    "v3_topo_clusters": (
        "gic-version=3",
        "8,sockets=2,clusters=2,cores=2",
        "1G",
        "max",
    ),
    "v3_topo_maxcpus": ("gic-version=3", "2,maxcpus=8", "1G", "cortex-a57"),
    "v3_phandle_start": ("gic-version=3,phandle-start=0x100", "4", "1G", "cortex-a57"),
    "v3_acpi_off": ("gic-version=3,acpi=off", "2", "1G", "cortex-a57"),
    "cpu_cortex-a7": ("gic-version=3", "2", "1G", "cortex-a7"),
    "cpu_cortex-a15": ("gic-version=3", "2", "1G", "cortex-a15"),
    "cpu_cortex-a35": ("gic-version=3", "2", "1G", "cortex-a35"),
    "cpu_cortex-a53": ("gic-version=3", "2", "1G", "cortex-a53"),
    "cpu_cortex-a57": ("gic-version=3", "2", "1G", "cortex-a57"),
    "cpu_cortex-a72": ("gic-version=3", "2", "1G", "cortex-a72"),
    "cpu_cortex-a76": ("gic-version=3", "2", "1G", "cortex-a76"),
    "cpu_a64fx": ("gic-version=3", "2", "1G", "a64fx"),
    "cpu_neoverse-n1": ("gic-version=3", "2", "1G", "neoverse-n1"),
    "cpu_max": ("gic-version=3", "2", "1G", "max"),
}


def machine_option(opts: str) -> str:
    """Return the ``-M`` value for a case's options (without dumpdtb)."""
    return "virt,dtb-randomness=off" + (f",{opts}" if opts else "")


def qemu_command(
    qemu: str, opts: str, smp: str | None, mem: str | None, cpu: str | None, out: Path
) -> list[str]:
    """Return the QEMU command line that dumps a case's DTB to *out*."""
    cmd = [qemu, "-M", f"{machine_option(opts)},dumpdtb={out}"]
    for flag, value in (("-smp", smp), ("-m", mem), ("-cpu", cpu)):
        if value is not None:
            cmd += [flag, value]
    return [*cmd, "-nographic", "-nodefaults"]


def dump(
    qemu: str, opts: str, smp: str | None, mem: str | None, cpu: str | None
) -> bytes:
    """Run QEMU for one case and return the dumped blob.

    Raises:
        RuntimeError: QEMU failed; its last stderr line is in the message.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.dtb"
        proc = subprocess.run(
            qemu_command(qemu, opts, smp, mem, cpu, out),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            msg = f"qemu failed for options {opts!r}: {last}"
            raise RuntimeError(msg)
        return out.read_bytes()


def main(argv: list[str]) -> int:
    """Capture the named cases (all if none) and rewrite the index."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        print("qemu-system-aarch64 is not installed", file=sys.stderr)
        return 1
    unknown = [n for n in argv if n not in CASES]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    version = subprocess.run(
        [qemu, "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    for name in argv or list(CASES):
        opts, smp, mem, cpu = CASES[name]
        blob = dump(qemu, opts, smp, mem, cpu)
        (HERE / f"{name}.dtb.gz").write_bytes(gzip.compress(blob, mtime=0))
        print(f"{name}: {len(blob)} bytes", file=sys.stderr)
    index = {
        "qemu": version,
        "cases": {
            name: {"machine": machine_option(o), "smp": s, "memory": m, "cpu": c}
            for name, (o, s, m, c) in CASES.items()
        },
    }
    INDEX.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    write_reference_dts()
    return 0


def write_reference_dts() -> None:
    """Write ``virt.dts``: dtc's decompile of the ``defaults`` capture."""
    dtc = shutil.which("dtc")
    if dtc is None:
        print("dtc is not installed; virt.dts not refreshed", file=sys.stderr)
        return
    blob = gzip.decompress((HERE / "defaults.dtb.gz").read_bytes())
    text = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", "-"],
        input=blob,
        capture_output=True,
        check=True,
    ).stdout
    (HERE / "virt.dts").write_bytes(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
