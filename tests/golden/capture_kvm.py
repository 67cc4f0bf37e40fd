"""Capture real QEMU 7.2's KVM device calls under real KVM 6.1, as goldens.

Run from the repository root: ``python -m tests.golden.capture_kvm [NAME ...]``
(needs ``virtmodel lab setup``). Every configuration of :data:`MATRIX` (or
the ones named) runs in ONE lab guest boot; each one's device calls
(:mod:`virtmodel.machine.lab.devicecalls`) are written to
``qemu-kvm/<name>.txt``: a header of ``#`` lines naming the QEMU arguments,
QEMU's and the kernel's versions, then one call a line. Re-capturing what
QEMU still does leaves git clean. The tests boot virtmodel on the same
arguments and compare call for call.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
GOLDEN_DIR: Final = HERE / "qemu-kvm"

#: name -> QEMU machine arguments. GICv3 only: the lab's host cannot emulate
#: a GICv2. ITS on and off, 1 to 8 CPUs, 256M to 6G with and without highmem,
#: three NUMA nodes each with a memory backend, and two older machine types.
MATRIX: Final[dict[str, tuple[str, ...]]] = {
    "its-on_smp1_256M": ("-M", "virt,gic-version=3,its=on", "-smp", "1", "-m", "256M"),
    "its-on_smp2_256M": ("-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "256M"),
    "its-off_smp2_256M": ("-M", "virt,gic-version=3,its=off", "-smp", "2", "-m", "256M"),
    "its-on_smp4_1G": ("-M", "virt,gic-version=3,its=on", "-smp", "4", "-m", "1G"),
    "its-off_smp8_512M": ("-M", "virt,gic-version=3,its=off", "-smp", "8", "-m", "512M"),
    "its-on_smp2_5G": ("-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "5G"),
    "its-on_smp3_highmem-off_2G": (
        "-M", "virt,gic-version=3,its=on,highmem=off", "-smp", "3", "-m", "2G",
    ),
    "its-off_smp8_highmem-off_3G": (
        "-M", "virt,gic-version=3,its=off,highmem=off", "-smp", "8", "-m", "3G",
    ),
    "its-on_smp8_4097M": ("-M", "virt,gic-version=3,its=on", "-smp", "8", "-m", "4097M"),
    "its-off_smp5_6G": ("-M", "virt,gic-version=3,its=off", "-smp", "5", "-m", "6G"),
    # Older machine types: 5.1 gives no stolen time, 2.7 no in-kernel ITS.
    "virt-5.1_its-on_smp2_256M": (
        "-M", "virt-5.1,gic-version=3,its=on", "-smp", "2", "-m", "256M",
    ),
    "virt-2.7_smp2_512M": ("-M", "virt-2.7,gic-version=3", "-smp", "2", "-m", "512M"),
    # One RAM slot per memory backend, in node order; stolen time after them.
    "its-on_smp2_numa3_1G": (
        "-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "1G",
        "-object", "memory-backend-ram,id=m0,size=512M",
        "-object", "memory-backend-ram,id=m1,size=256M",
        "-object", "memory-backend-ram,id=m2,size=256M",
        "-numa", "node,memdev=m0,cpus=0", "-numa", "node,memdev=m1,cpus=1",
        "-numa", "node,memdev=m2",
    ),
}  # fmt: skip
#: Every configuration runs the host's CPU (the only one KVM runs as is).
CPU: Final = ("-cpu", "host")
_HEADER: Final = "# "


def qemu_args(name: str) -> tuple[str, ...]:
    """Return the machine arguments of configuration *name*, ``-cpu host`` included."""
    return (*MATRIX[name], *CPU)


def golden_path(name: str) -> Path:
    """Return where configuration *name*'s golden lives."""
    return GOLDEN_DIR / f"{name}.txt"


def render(args: Sequence[str], calls: Sequence[str], versions: str) -> str:
    """Return a golden file's text for *calls* captured with *args*."""
    header = [
        "Real QEMU's KVM device calls (virtmodel lab qemu-trace), one a line.",
        f"qemu-system-aarch64 {' '.join(args)}",
        versions,
        "Refresh: python -m tests.golden.capture_kvm",
    ]
    return "".join(f"{_HEADER}{line}\n" for line in header) + "".join(
        f"{call}\n" for call in calls
    )


def read_golden(path: Path) -> tuple[tuple[str, ...], list[str]]:
    """Return a golden's QEMU arguments (after ``-nic none``) and its calls.

    Raises:
        ValueError: The file has no ``qemu-system-aarch64`` header line.
    """
    args: tuple[str, ...] | None = None
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(_HEADER + "qemu-system-aarch64 "):
            words = line.split()[2:]
            args = tuple(words[words.index("none") + 1 :])
        elif line and not line.startswith("#"):
            calls.append(line)
    if args is None:
        msg = f"{path.name}: no '# qemu-system-aarch64 ...' header"
        raise ValueError(msg)
    return args, calls


def capture(names: Sequence[str]) -> list[Path]:
    """Trace *names* in one lab boot and write their goldens.

    Raises:
        LabError: The lab failed, or QEMU did not come up for a configuration.
    """
    from virtmodel.machine.lab import LabPaths, trace_qemu
    from virtmodel.machine.lab.devicecalls import from_traced_calls
    from virtmodel.machine.lab.paths import LabError

    paths = LabPaths.default()
    kernel = paths.kernel_release.read_text().strip()
    qemu = paths.qemu_version.read_text().strip()
    versions = f"Debian qemu-system-arm {qemu}, Debian kernel {kernel}"
    traces = trace_qemu([qemu_args(name) for name in names], paths=paths)
    written = []
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, trace in zip(names, traces, strict=True):
        if not trace.ok:
            tail = trace.output[-1] if trace.output else "no output"
            msg = f"{name}: QEMU did not come up ({tail})"
            raise LabError(msg)
        calls = from_traced_calls(trace.machine_calls())
        path = golden_path(name)
        path.write_text(render(trace.args, calls, versions), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str]) -> int:
    """Capture the named configurations (all of :data:`MATRIX` by default)."""
    names = list(argv) or list(MATRIX)
    unknown = [n for n in names if n not in MATRIX]
    if unknown:
        print(f"capture_kvm: unknown configuration {unknown[0]!r}", file=sys.stderr)
        return 2
    for path in capture(names):
        print(path.relative_to(HERE.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
