"""The argument parser of every ``virtmodel`` subcommand (DESIGN.md §6).

Machine options use QEMU's spelling (``-M``, ``-smp``, ``-m``, ``-cpu``,
``-accel``); a parse error is a :class:`UsageError`, never argparse's exit.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from virtmodel.machine.cli.status import UsageError

#: The one-line summary ``virtmodel --help`` starts with.
DESCRIPTION = "Compose QEMU-style machines and run their init in declared order."


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _machine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("machine options (QEMU spelling)")
    g.add_argument(
        "-M", "-machine", dest="machine", default="virt", metavar="virt[,k=v...]"
    )
    g.add_argument("-smp", dest="smp", default=None, metavar="N[,sockets=..]")
    g.add_argument(
        "-m", dest="memory", default=None, metavar="SIZE[,slots=..,maxmem=..]"
    )
    g.add_argument("-cpu", dest="cpu", default=None, metavar="MODEL")
    g.add_argument("-accel", dest="accel", default="tcg", choices=("tcg", "kvm"))
    v = p.add_argument_group("virtmodel variants")
    v.add_argument(
        "--kernel-semantics",
        default="v6.1",
        choices=("v6.1", "mainline", "v4.8", "v4.8-rc1"),
        help="which Linux KVM answers the ioctls (with -accel kvm)",
    )
    v.add_argument(
        "--notifiers",
        default="ordered",
        choices=("ordered", "qemu-lifo"),
        help="declared order (default) or QEMU's newest-first list",
    )
    v.add_argument(
        "--its-init",
        default="realize",
        choices=("realize", "init-done"),
        help="ITS CTRL_INIT in realize (QEMU >= 2.8) or in its own notifier",
    )
    v.add_argument(
        "--drop-edge",
        action="append",
        default=[],
        metavar="NOTIFIER=TARGET",
        help="for experiments: drop NOTIFIER's declared after=/before= TARGET",
    )
    v.add_argument(
        "--strict",
        action="store_true",
        help="fail a notifier that touches a KVM attribute it did not declare",
    )
    v.add_argument(
        "--seed",
        type=int,
        default=None,
        help="make rng-seed/kaslr-seed reproducible",
    )


def _version() -> str:
    from virtmodel import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every subcommand."""
    parser = _Parser(prog="virtmodel", description=DESCRIPTION, allow_abbrev=False)
    parser.add_argument(
        "--version", action="version", version=f"virtmodel {_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="bring the machine up to its first vCPU run; print the trace"
    )
    _machine_options(run)
    run.add_argument("--json", action="store_true", help="print the trace as JSON")
    run.add_argument(
        "--check", action="store_true", help="report notifier hazards first"
    )
    run.add_argument(
        "--mtree", action="store_true", help="also print the memory map (info mtree)"
    )

    dtb = sub.add_parser("dtb", help="write the device tree blob QEMU's dumpdtb writes")
    _machine_options(dtb)
    dtb.add_argument("-o", "--output", required=True, metavar="FILE")

    dts = sub.add_parser("dts", help="print the device tree source")
    _machine_options(dts)

    boot = sub.add_parser(
        "boot", help="boot a kernel under qemu-system-aarch64 on our DTB"
    )
    _machine_options(boot)
    boot.add_argument("--kernel", required=True, metavar="IMAGE")
    boot.add_argument("--append", default=None, metavar="ARGS")
    boot.add_argument("--initrd", default=None, metavar="FILE")
    boot.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    boot.add_argument("--qemu", default="qemu-system-aarch64", metavar="PROGRAM")

    graph = sub.add_parser("graph", help="draw a phase's notifiers and their order")
    _machine_options(graph)
    graph.add_argument(
        "--phase", default="init-done", choices=("init-done", "realize", "reset")
    )
    graph.add_argument(
        "--format", default="dot", choices=("dot", "mermaid", "svg", "png")
    )
    graph.add_argument("-o", "--output", default=None, metavar="FILE")

    explain = sub.add_parser("explain", help="say why notifier A runs before B")
    _machine_options(explain)
    explain.add_argument("first", metavar="A")
    explain.add_argument("second", metavar="B")

    explore = sub.add_parser(
        "explore", help="run init-done under one order per class of equivalent orders"
    )
    _machine_options(explore)
    explore.add_argument(
        "--limit",
        type=int,
        default=5000,
        help="run every class (or order) up to this many, else a seeded sample",
    )
    explore.add_argument(
        "--all-orders",
        action="store_true",
        help="run every valid order, not one per class of equivalent orders",
    )
    explore.add_argument("--json", action="store_true")
    from virtmodel.machine.lab.cli import add_lab_parser

    add_lab_parser(sub)
    return parser
