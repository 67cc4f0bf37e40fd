"""Regenerate what docs show from the real machine: ``python docs/render.py``.

Two things are generated, never typed: the console transcripts in README.md
and docs/*.md (every ``console`` block is re-run, see ``docs/transcripts.py``,
so file:line references and trace numbers stay true), and the pictures. The
graph is drawn from the virt machine's own init-done registry (GICv3+ITS
under the simulated KVM, ITS init in its own notifier), once as declared and once
with the ITS init's after= dropped, as DOT text and as SVG through Graphviz. The test
suite checks that the checked-in DOT files are what this script writes today.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from virtmodel.machine.cli.main import main

DOCS = Path(__file__).resolve().parent
MACHINE = [
    *("-M", "virt,gic-version=3,its=on", "-smp", "4", "-m", "1G"),
    *("-cpu", "cortex-a57", "-accel", "kvm", "--its-init", "init-done"),
]
PICTURES = {
    "init-done-ordered": [],
    "init-done-missing-edge": ["--drop-edge", "its-ctrl-init=kvm-set-addr:its"],
}


def render(names: dict[str, list[str]] = PICTURES) -> list[Path]:
    """Write each picture's .dot (and .svg when Graphviz is there); return the paths."""
    written = []
    for name, extra in names.items():
        dot = DOCS / f"{name}.dot"
        status = main(["graph", *MACHINE, *extra, "-o", str(dot)])
        assert status == 0, name
        written.append(dot)
        if shutil.which("dot"):
            svg = DOCS / f"{name}.svg"
            subprocess.run(["dot", "-Tsvg", str(dot), "-o", str(svg)], check=True)
            written.append(svg)
    return written


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS))
    from transcripts import refresh_files

    for path in render():
        print(path.relative_to(DOCS.parent))
    for name in refresh_files():
        print(name)
    sys.exit(0)
