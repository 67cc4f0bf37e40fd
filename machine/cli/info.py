"""``virtmodel info mtree [-f]`` and ``info qtree``: QEMU's monitor views.

The machine options are read exactly as for the other commands; the output is
what QEMU's HMP prints for the same options (its groups in creation order,
where QEMU's order changes from run to run).
"""

from __future__ import annotations

import argparse
import sys

from virtmodel.machine.cli.commands import config_from
from virtmodel.machine.cli.status import EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    """Print the memory tree, its flattened views or the device tree of buses."""
    from virtmodel.machine.boards.virt.board import settle_gic
    from virtmodel.machine.boards.virt.memtree import virt_address_spaces
    from virtmodel.machine.boards.virt.qtree import format_qtree
    from virtmodel.machine.mtree import format_flat, format_mtree

    config = config_from(args)
    if getattr(args, "kvm_backend", "sim") == "sim":
        # Under KVM an unset gic-version is the simulated host's answer, as in run.
        config = settle_gic(config, args.kernel_semantics)
    if args.what == "qtree":
        sys.stdout.write(format_qtree(config))
        return EXIT_OK
    spaces = virt_address_spaces(config)
    sys.stdout.write(format_flat(spaces) if args.flat else format_mtree(spaces))
    return EXIT_OK
