"""``virtmodel info mtree [-f]`` and ``info qtree``: QEMU's monitor views.

The machine options are read exactly as for the other commands; the output is
what QEMU's HMP prints for the same options (its groups in creation order,
where QEMU's order changes from run to run).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from virtmodel.machine.cli.commands import config_from
from virtmodel.machine.cli.status import EXIT_OK, UsageError

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig


def cmd_info(args: argparse.Namespace) -> int:
    """Print the memory tree, its flattened views or the device tree of buses."""
    from virtmodel.machine.boards.virt.board import settle_gic
    from virtmodel.machine.boards.virt.memtree import virt_address_spaces
    from virtmodel.machine.boards.virt.qtree import format_qtree
    from virtmodel.machine.mtree import format_flat, format_mtree

    config = config_from(args)
    if args.kvm_backend != "sim":
        # What a real host answers (GIC versions, stolen time) needs its
        # /dev/kvm, which only run opens.
        msg = (
            "info answers for the simulated kernel; on a KVM host, "
            "'run --kvm host --mtree' shows the machine its kernel let QEMU build"
        )
        raise UsageError(msg)
    # Under KVM the simulated host answers what QEMU asks the kernel, as in
    # run: the GIC version when unset, and whether the vCPUs steal time.
    config = settle_gic(config, args.kernel_semantics)
    if args.what == "qtree":
        sys.stdout.write(format_qtree(config))
        return EXIT_OK
    spaces = virt_address_spaces(config, pvtime=_steals_time(config, args))
    sys.stdout.write(format_flat(spaces) if args.flat else format_mtree(spaces))
    return EXIT_OK


def _steals_time(config: VirtConfig, args: argparse.Namespace) -> bool:
    """Whether the simulated kernel gives this machine's vCPUs stolen time."""
    if config.accel != "kvm":
        return False
    from virtmodel.machine.accel import KvmAccel
    from virtmodel.machine.boards.virt.memmap import steals_time

    return steals_time(config, KvmAccel(args.kernel_semantics).host.pvtime)
