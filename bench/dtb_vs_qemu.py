"""Whole-process time of ``virtmodel dtb`` against QEMU's ``dumpdtb``.

Usage: ``python bench/dtb_vs_qemu.py [--runs N] [--profile]``

Both sides run as fresh processes on the same options (GICv3 + ITS,
cortex-a57, 1 GiB, ``dtb-randomness=off``) at ``-smp 4`` and ``-smp 512``;
the medians of N runs and their ratio are printed, and the two blobs are
checked to be byte-identical. Target (DESIGN.md section 7): at ``-smp 512``
ours takes at most half of QEMU's time. The ``virtmodel`` console script is
used when it can write a DTB, else ``python -c`` calling the same functions.
``--profile`` adds an in-process cProfile of building the 512-CPU tree.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE = "virt,gic-version=3,its=on,dtb-randomness=off"
CPU = "cortex-a57"
MEMORY = "1G"

PY_DTB = (
    "import sys\n"
    "from pathlib import Path\n"
    "from virtmodel.machine.boards.virt.config import VirtConfig\n"
    "from virtmodel.machine.boards.virt.dtb import cmd_dtb\n"
    "m, smp, mem, cpu, out = sys.argv[1:]\n"
    "cmd_dtb(VirtConfig.from_options(m, smp=smp, memory=mem, cpu=cpu), Path(out))\n"
)


def qemu_cmd(qemu: str, smp: str, out: Path) -> list[str]:
    """Return QEMU's dumpdtb command line."""
    return [
        qemu, "-M", f"{MACHINE},dumpdtb={out}", "-cpu", CPU, "-smp", smp,
        "-m", MEMORY, "-nographic", "-nodefaults",
    ]  # fmt: skip


def console_cmd(smp: str, out: Path) -> list[str] | None:
    """Return the ``virtmodel dtb`` command line, or None if it does not work yet."""
    exe = shutil.which("virtmodel")
    if exe is None:
        return None
    cmd = [
        exe,
        "dtb",
        "-M",
        MACHINE,
        "-cpu",
        CPU,
        "-smp",
        smp,
        "-m",
        MEMORY,
        "-o",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
    return cmd if done.returncode == 0 and out.exists() else None


def python_cmd(smp: str, out: Path) -> list[str]:
    """Return the ``python -c`` fallback that calls cmd_dtb directly."""
    return [sys.executable, "-c", PY_DTB, MACHINE, smp, MEMORY, CPU, str(out)]


def timed(cmd: list[str], runs: int) -> list[float]:
    """Run *cmd* *runs* times and return the wall times in seconds.

    Raises:
        subprocess.CalledProcessError: A run failed.
    """
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)
        times.append(time.perf_counter() - start)
    return times


def profile_build(smp: str) -> None:
    """Print the top entries of a cProfile of building the tree in-process."""
    sys.path.insert(0, str(ROOT))
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.boards.virt.tree import build_virt_fdt

    config = VirtConfig.from_options(MACHINE, smp=smp, memory=MEMORY, cpu=CPU)
    profiler = cProfile.Profile()
    profiler.enable()
    build_virt_fdt(config).to_dtb()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)


def main() -> int:
    """Run the comparison and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        print("qemu-system-aarch64 is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        ours_out, qemu_out = Path(tmp) / "ours.dtb", Path(tmp) / "qemu.dtb"
        ours_cmd = console_cmd("4", ours_out)
        how = "virtmodel dtb" if ours_cmd else "python -c cmd_dtb"
        print(f"ours: {how}; {args.runs} runs each; medians in seconds")
        for smp in ("4", "512"):
            ours = console_cmd(smp, ours_out) if ours_cmd else python_cmd(smp, ours_out)
            assert ours is not None
            t_ours = statistics.median(timed(ours, args.runs))
            t_qemu = statistics.median(timed(qemu_cmd(qemu, smp, qemu_out), args.runs))
            same = ours_out.read_bytes() == qemu_out.read_bytes()
            print(
                f"-smp {smp:>3}: ours {t_ours:.3f}  qemu {t_qemu:.3f}  "
                f"ratio {t_ours / t_qemu:.2f}  identical={same}"
            )
    if args.profile:
        profile_build("512")
    return 0


if __name__ == "__main__":
    sys.exit(main())
