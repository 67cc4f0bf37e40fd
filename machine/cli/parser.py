"""The argument parser of every ``virtmodel`` subcommand (DESIGN.md §6).

Machine options use QEMU's spelling (``-M``, ``-smp``, ``-m``, ``-cpu``,
``-accel``); a parse error is a :class:`UsageError`, never argparse's exit.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Final, NoReturn

from virtmodel.devices.its_init import ITS_INITS
from virtmodel.machine.cli.choices import GRAPH_FORMATS, GRAPH_PHASES, INFO_TOPICS
from virtmodel.machine.cli.status import EXIT_STATUSES, UsageError
from virtmodel.machine.kvm.eras import BACKENDS, DEFAULT_ERA, SEMANTICS_NAMES
from virtmodel.machine.notifier_modes import NOTIFIER_MODES

#: The one-line summary ``virtmodel --help`` starts with.
DESCRIPTION = "Compose QEMU-style machines and run their init in declared order."


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2, never abbreviating.

    argparse's ``allow_abbrev=False`` stops only ``--long`` prefixes; a single
    dash still matches by prefix (``-c`` would mean ``-cpu``) and glues values
    on (``-m1G``). QEMU does neither, so neither is done here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        return []


class _QemuOption(argparse.Action):
    """Collect a QEMU option, in command-line order, into ``args.qemu_args``.

    QEMU merges some repeated options and replaces others
    (``boards.virt.cmdline``), so the order of all of them is kept.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, "qemu_args", None) or [])
        items.append((self.option_strings[0], values if self.nargs != 0 else None))
        namespace.qemu_args = items


def _qemu(g: Any, *names: str, metavar: str | None = None, help: str) -> None:
    flag = metavar is None
    g.add_argument(
        *names,
        action=_QemuOption,
        dest="qemu_args",
        nargs=0 if flag else None,
        default=argparse.SUPPRESS,
        metavar=metavar,
        help=help,
    )


def _machine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "machine options (QEMU spelling; repeated options merge as in QEMU)"
    )
    _qemu(
        g,
        "-M",
        "-machine",
        metavar="virt[,k=v...]",
        help="machine type and properties (default: virt); -M help lists them",
    )
    _qemu(g, "-smp", metavar="N[,sockets=..]", help="CPU topology (default: 1)")
    _qemu(g, "-m", metavar="SIZE[,slots=..,maxmem=..]", help="RAM size (default: 128M)")
    _qemu(
        g,
        "-cpu",
        metavar="MODEL[,prop=on|off]",
        help="CPU model (default: cortex-a15); -cpu help lists them",
    )
    _qemu(
        g,
        "-accel",
        metavar="tcg|kvm[,prop=..]",
        help="accelerator, tried in order (default: tcg)",
    )
    _qemu(g, "-enable-kvm", help="same as -M accel=kvm")
    _qemu(
        g,
        "-kernel",
        "--kernel",
        metavar="IMAGE",
        help="kernel image: /chosen gets its boot arguments (default: none)",
    )
    _qemu(
        g,
        "-initrd",
        "--initrd",
        metavar="FILE",
        help="initial ramdisk: /chosen gets its range (default: none)",
    )
    _qemu(
        g,
        "-append",
        "--append",
        metavar="ARGS",
        help="kernel command line (default: none)",
    )
    _qemu(g, "-bios", metavar="FILE", help="firmware image (default: none)")
    _qemu(
        g,
        "-device",
        metavar="TYPE[,k=v]",
        help="add a device (default: none); -device help lists the modelled ones",
    )
    _qemu(
        g,
        "-dtb",
        metavar="FILE",
        help="a device tree blob QEMU loads and edits instead of its own "
        "(default: none)",
    )
    _qemu(
        g,
        "-object",
        metavar="memory-backend-ram,id=ID,size=SIZE",
        help="memory for a NUMA node (default: none)",
    )
    _qemu(
        g,
        "-numa",
        metavar="node[,nodeid=N,cpus=A-B,memdev=ID]|dist,src=A,dst=B,val=D",
        help="a NUMA node or distance (default: no NUMA)",
    )
    o = p.add_argument_group("accepted QEMU options that change no device tree")
    _qemu(o, "-nographic", help="no graphics (sets -M graphics=off)")
    _qemu(o, "-nodefaults", help="no default devices")
    for name in ("-display", "-serial", "-monitor"):
        _qemu(o, name, metavar="SPEC", help=f"{name[1:]} backend (default: QEMU's)")
    for name in ("-nic", "-net"):
        _qemu(
            o, name, metavar="none", help="only none: no network device (default: none)"
        )
    v = p.add_argument_group("virtmodel variants")
    v.add_argument(
        "--kernel-semantics",
        default=DEFAULT_ERA,
        choices=SEMANTICS_NAMES,
        help="which Linux KVM answers the ioctls (with -accel kvm)",
    )
    v.add_argument(
        "--kvm",
        dest="kvm_backend",
        default="sim",
        choices=BACKENDS,
        help="who answers the KVM calls (with -accel kvm): the simulator "
        "(default) or this arm64 host's /dev/kvm",
    )
    v.add_argument(
        "--notifiers",
        default="ordered",
        choices=NOTIFIER_MODES,
        help="declared order or QEMU's newest-first list",
    )
    v.add_argument(
        "--its-init",
        default="realize",
        choices=ITS_INITS,
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


def exit_statuses() -> str:
    """Return the exit statuses as the help's epilog lists them."""
    lines = ["exit status:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_STATUSES]
    return "\n".join(lines)


def _version() -> str:
    from virtmodel import __version__

    return __version__


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the parser for every subcommand.

    With *command*, only that subcommand gets its options; the others are
    there by name alone, so a command line that starts with *command* parses
    exactly as with the full parser, without paying for the rest (the lab's
    options import the lab). ``None`` builds them all (``--help``).
    """
    parser = _Parser(
        prog="virtmodel",
        description=DESCRIPTION,
        epilog=exit_statuses(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action="version", version=f"virtmodel {_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, add in _SUBCOMMANDS.items():
        if command is None or name == command:
            add(sub)
        else:
            sub.add_parser(name)
    return parser


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="bring the machine up to its first vCPU run; print the trace",
        epilog=exit_statuses(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _machine_options(run)
    run.add_argument("--json", action="store_true", help="print the trace as JSON")
    run.add_argument(
        "--check",
        action="store_true",
        help="also report notifier hazards of the order that runs (exit 3 if any)",
    )
    run.add_argument(
        "--mtree", action="store_true", help="also print the memory map (info mtree)"
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="print every trace line (runs of alike lines are folded otherwise)",
    )


def _add_dtb(sub: Any) -> None:
    dtb = sub.add_parser("dtb", help="write the device tree blob QEMU's dumpdtb writes")
    _machine_options(dtb)
    dtb.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write it"
    )


def _add_dts(sub: Any) -> None:
    dts = sub.add_parser("dts", help="print the device tree source")
    _machine_options(dts)


def _add_boot(sub: Any) -> None:
    boot = sub.add_parser(
        "boot", help="boot a kernel under qemu-system-aarch64 on our DTB"
    )
    _machine_options(boot)
    boot.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop the guest after this long",
    )
    boot.add_argument(
        "--qemu",
        default="qemu-system-aarch64",
        metavar="PROGRAM",
        help="the QEMU to run",
    )


def _add_graph(sub: Any) -> None:
    graph = sub.add_parser("graph", help="draw a phase's notifiers and their order")
    _machine_options(graph)
    graph.add_argument(
        "--phase",
        default="init-done",
        choices=GRAPH_PHASES,
        help="which phase's notifiers",
    )
    graph.add_argument(
        "--format",
        default="dot",
        choices=GRAPH_FORMATS,
        help="output format (svg/png need Graphviz and -o)",
    )
    graph.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write here, not stdout"
    )


def _add_explain(sub: Any) -> None:
    explain = sub.add_parser("explain", help="say why notifier A runs before B")
    _machine_options(explain)
    explain.add_argument("first", metavar="A", help="a notifier's name")
    explain.add_argument("second", metavar="B", help="another notifier's name")
    explain.add_argument(
        "--json", action="store_true", help="print the explanation as JSON"
    )


def _add_info(sub: Any) -> None:
    info = sub.add_parser(
        "info", help="print what QEMU's monitor prints: info mtree [-f], info qtree"
    )
    _machine_options(info)
    info.add_argument(
        "what", choices=INFO_TOPICS, help="memory regions or device buses"
    )
    info.add_argument(
        "-f", dest="flat", action="store_true", help="mtree: the flattened views"
    )


def _add_explore(sub: Any) -> None:
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
    explore.add_argument("--json", action="store_true", help="print JSON")


def _add_lab(sub: Any) -> None:
    from virtmodel.machine.lab.cli import add_lab_parser

    add_lab_parser(sub)


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="serve the classroom page on http://127.0.0.1:PORT/"
    )
    _machine_options(serve)
    # Unset options start the page on the 2016 story (boards.virt.lesson.STORY).
    serve.set_defaults(kernel_semantics=None, notifiers=None, its_init=None)
    serve.add_argument(
        "--port", type=int, default=8016, help="0 picks a free port (default 8016)"
    )


#: Each subcommand and what adds it, in the order ``--help`` lists them.
_SUBCOMMANDS: Final[dict[str, Callable[[Any], None]]] = {
    "run": _add_run,
    "dtb": _add_dtb,
    "dts": _add_dts,
    "boot": _add_boot,
    "graph": _add_graph,
    "explain": _add_explain,
    "info": _add_info,
    "explore": _add_explore,
    "lab": _add_lab,
    "serve": _add_serve,
}

#: The subcommands' names.
COMMANDS: Final = tuple(_SUBCOMMANDS)
