"""Whole-process time of ``virtmodel dtb`` and ``run`` against QEMU's ``dumpdtb``.

Usage: ``python bench/dtb_vs_qemu.py [--runs N] [--profile] [--importtime]
[--floor] [--no-bytecode-cache]``

Both sides run as fresh processes on the same options (GICv3 + ITS,
cortex-a57, 1 GiB, ``dtb-randomness=off``), alternating, at ``-smp 4`` and
``-smp 512``; ``virtmodel run`` (same options, ``-accel kvm``) is compared
with QEMU's ``dumpdtb`` at ``-smp 4``. The medians of N runs, their ratio
and the target (DESIGN.md section 7: dtb at most 1.0x at -smp 4 and 0.2x at
-smp 512, run at most 1.5x) are printed, and the two blobs are checked to be
byte-identical. The ``virtmodel`` console script is used when it can write
a DTB, else ``python -c`` calling the same functions. ``--importtime`` adds,
for each command, the ``python -X importtime`` total per top-level package
(per room for virtmodel's own modules); ``--profile`` an in-process cProfile
of building the 512-CPU tree. ``--floor`` times, alternating with the same
QEMU run, what any Python program pays before virtmodel's own code: the bare
interpreter, the standard modules nearly every module here imports (argparse,
typing, dataclasses), and the two libraries the design names (pydantic for
properties, networkx for the order), each against the targets.

Python runs from cached bytecode, as an installed virtmodel does (pip
compiles it at install time): ``PYTHONDONTWRITEBYTECODE`` is dropped from the
children's environment and each command runs once before the timed runs.
With the variable set, every run would compile virtmodel's ~60 modules
from source (an editable install has no bytecode of its own), which costs
more than QEMU's whole run; ``--no-bytecode-cache`` keeps the environment as
it is, to see that cost.
"""

from __future__ import annotations

import argparse
import cProfile
import os
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

#: The children's environment (see the module docstring); main() may keep
#: PYTHONDONTWRITEBYTECODE with --no-bytecode-cache.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


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
    done = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False, env=ENV)
    return cmd if done.returncode == 0 and out.exists() else None


def run_cmd(smp: str) -> list[str]:
    """Return ``virtmodel run`` on the same machine under simulated KVM."""
    exe = shutil.which("virtmodel") or "virtmodel"
    return [
        exe, "run", "-M", MACHINE, "-cpu", CPU, "-smp", smp, "-m", MEMORY,
        "-accel", "kvm",
    ]  # fmt: skip


def python_cmd(smp: str, out: Path) -> list[str]:
    """Return the ``python -c`` fallback that calls cmd_dtb directly."""
    return [sys.executable, "-c", PY_DTB, MACHINE, smp, MEMORY, CPU, str(out)]


def timed(cmd: list[str]) -> float:
    """Run *cmd* once and return its wall time in seconds.

    Raises:
        subprocess.CalledProcessError: It failed.
    """
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True, env=ENV)
    return time.perf_counter() - start


def alternating(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Return the median wall time of each command, run in turns after one warm-up."""
    for cmd in commands.values():
        timed(cmd)  # writes the bytecode cache, as installing would have
    times: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(runs):
        names = list(commands)
        for name in names if run % 2 == 0 else reversed(names):
            times[name].append(timed(commands[name]))
    return {name: statistics.median(found) for name, found in times.items()}


#: What a process pays before virtmodel's own code (``--floor``): each a whole
#: ``python -c`` process, so the bare interpreter is in every line.
FLOOR: dict[str, str] = {
    "python -c pass": "pass",
    "+ argparse, typing, dataclasses": "import argparse, typing, dataclasses",
    "+ pydantic (BaseModel)": "import argparse, typing, dataclasses; "
    "from pydantic import BaseModel",
    "+ networkx": "import argparse, typing, dataclasses; import networkx",
    "+ pydantic and networkx (run's)": "import argparse, typing, dataclasses; "
    "from pydantic import BaseModel; import networkx",
}


def floor(qemu: str, out: Path, runs: int) -> None:
    """Print the floor lines (see the module docstring) next to QEMU's dumpdtb."""
    commands = {name: [sys.executable, "-c", code] for name, code in FLOOR.items()}
    commands["qemu"] = qemu_cmd(qemu, "4", out)
    medians = alternating(commands, runs)
    t_qemu = medians.pop("qemu")
    print(f"floor, -smp 4: qemu dumpdtb {t_qemu:.3f}; targets dtb <= 1.0x, run <= 1.5x")
    for name, seconds in medians.items():
        print(f"  {name:<34} {seconds:.3f}  {seconds / t_qemu:.2f}x qemu")


def importtime(args: list[str]) -> dict[str, float]:
    """Return milliseconds of imports per top-level package for ``virtmodel ARGS``."""
    cmd = [sys.executable, "-X", "importtime", "-m", "virtmodel", *args]
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, check=True, env=ENV
    )
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():
            parts = name.strip().split(".")
            # virtmodel by room (virtmodel.machine.boards, virtmodel.devices),
            # others by top-level package.
            room = (
                parts[:3] if parts[1:2] == ["machine"] and len(parts) > 3 else parts[:2]
            )
            root = ".".join(room if parts[0] == "virtmodel" else parts[:1])
            totals[root] = totals.get(root, 0.0) + int(own) / 1000
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


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
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--no-bytecode-cache", action="store_true")
    args = parser.parse_args()
    if args.no_bytecode_cache:
        ENV.clear()
        ENV.update(os.environ)
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        print("qemu-system-aarch64 is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        ours_out, qemu_out = Path(tmp) / "ours.dtb", Path(tmp) / "qemu.dtb"
        ours_cmd = console_cmd("4", ours_out)
        how = "virtmodel dtb" if ours_cmd else "python -c cmd_dtb"
        cache = "as the environment says" if args.no_bytecode_cache else "cached"
        print(
            f"ours: {how}; {args.runs} alternating runs each after a warm-up; "
            f"medians in seconds; Python bytecode {cache}"
        )
        for smp, target in (("4", 1.0), ("512", 0.2)):
            ours = console_cmd(smp, ours_out) if ours_cmd else python_cmd(smp, ours_out)
            assert ours is not None
            commands = {"ours": ours, "qemu": qemu_cmd(qemu, smp, qemu_out)}
            if smp == "4" and ours_cmd:
                commands["run"] = run_cmd(smp)
            medians = alternating(commands, args.runs)
            same = ours_out.read_bytes() == qemu_out.read_bytes()
            t_ours, t_qemu = medians["ours"], medians["qemu"]
            print(
                f"-smp {smp:>3}: dtb {t_ours:.3f}  qemu dumpdtb {t_qemu:.3f}  "
                f"ratio {t_ours / t_qemu:.2f} (target <= {target})  identical={same}"
            )
            if "run" in medians:
                print(
                    f"-smp {smp:>3}: run -accel kvm {medians['run']:.3f}  "
                    f"ratio {medians['run'] / t_qemu:.2f} to dumpdtb (target <= 1.5)"
                )
        if args.floor:
            floor(qemu, qemu_out, args.runs)
        if args.importtime and ours_cmd:
            for label, words in (
                ("dtb", [*ours_cmd[1:-1], str(ours_out)]),
                ("run", run_cmd("4")[1:]),
            ):
                importtime(words)  # bytecode cached, as for the timed runs
                spent = importtime(words)
                top = ", ".join(
                    f"{name} {ms:.0f}" for name, ms in list(spent.items())[:10]
                )
                print(f"importtime {label}: {sum(spent.values()):.0f} ms; {top}")
    if args.profile:
        profile_build("512")
    return 0


if __name__ == "__main__":
    sys.exit(main())
