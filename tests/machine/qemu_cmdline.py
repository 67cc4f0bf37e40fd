"""Run one QEMU argument list through virtmodel and through the live QEMU.

Test support shared by the command-line tests and the drawn test: both sides
get the same arguments; each answers with the DTB bytes or a refusal.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import require_tool
from virtmodel.machine.boards.virt.cmdline import (
    config_from_command_line,
    parse_argv,
    read_command_line,
)
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb
from virtmodel.machine.errors import ConfigError

#: Added to every live QEMU run: no default NIC (its ROM may be missing), and
#: no random seeds so two trees can be compared byte for byte.
QEMU_FIXED = ("-nodefaults", "-nographic")


def virtmodel_config(argv: Sequence[str]) -> VirtConfig:
    """Return the config virtmodel builds from *argv* (QEMU spelling).

    Raises:
        ConfigError: virtmodel refuses the arguments.
    """
    return config_from_command_line(read_command_line(parse_argv(argv)))


def virtmodel_dtb(argv: Sequence[str]) -> bytes | str:
    """Return virtmodel's DTB for *argv*, or its refusal message."""
    try:
        config = virtmodel_config(argv)
        return build_virt_dtb(config).to_dtb()
    except ConfigError as exc:
        return str(exc)


def qemu_dtb(argv: Sequence[str], tmp_path: Path) -> bytes | str:
    """Return QEMU's dumped DTB for *argv*, or its error output."""
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    out = tmp_path / "qemu.dtb"
    out.unlink(missing_ok=True)
    run = subprocess.run(
        [qemu, *argv, *QEMU_FIXED, "-M", f"dumpdtb={out}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0 or not out.exists():
        return run.stderr.strip() or f"exit {run.returncode}"
    return out.read_bytes()


def compare(argv: Sequence[str], tmp_path: Path) -> str | None:
    """Return why virtmodel and QEMU disagree on *argv*, or None if they agree.

    They agree when both refuse, or both accept with byte-identical trees.
    The random seeds are switched off on both sides.
    """
    argv = [*argv, "-M", "dtb-randomness=off"]
    ours = virtmodel_dtb(argv)
    theirs = qemu_dtb(argv, tmp_path)
    if isinstance(ours, str) and isinstance(theirs, str):
        return None
    if isinstance(ours, str):
        return f"virtmodel refuses ({ours}); QEMU accepts"
    if isinstance(theirs, str):
        return f"QEMU refuses ({theirs}); virtmodel accepts"
    if ours != theirs:
        from tests.support.fdt_diff import fdt_diff
        from virtmodel.machine.fdt import Fdt

        diff = fdt_diff(Fdt.from_dtb(ours), Fdt.from_dtb(theirs))
        return "trees differ:\n" + "\n".join(diff[:20])
    return None
