"""``virtmodel lab``: its argument parser and command handlers.

:func:`add_lab_parser` hangs ``lab setup``, ``lab kvm`` and ``lab
qemu-trace`` under the main parser; :func:`cmd_lab` runs them. Handlers
return exit statuses: 0 done, 1 the lab failed (a fetch, a guest, QEMU).
Bad arguments raise the main CLI's UsageError (exit 2, one line); so do
malformed scripts (ScriptError, a ValueError).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from virtmodel.machine.lab.paths import LabError, LabPaths, lab_dir
from virtmodel.machine.lab.qemu import DEFAULT_CONFIGURATION

__all__ = ["add_lab_parser", "cmd_lab"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1

#: qemu-trace's own options and whether each takes a value; the first other
#: word starts the QEMU arguments.
_TRACE_OPTIONS: Final = {
    "--timeout": True,
    "--all": False,
    "--json": False,
    "--raw": False,
    "--reset": False,
    "--console": False,
    "--full": False,
}


_CONSOLE_HELP = "stream the lab guest's console to stderr as it runs"
_TIMEOUT_HELP = "seconds for the whole guest boot (None: sized to the batch)"


def _trace_parser_class(
    base: type[argparse.ArgumentParser],
) -> type[argparse.ArgumentParser]:
    class QemuTraceParser(base):  # type: ignore[valid-type,misc]
        """Parses its own options, then hands every later word to QEMU."""

        def parse_known_args(
            self, args: Sequence[str] | None = None, namespace: Any = None
        ) -> tuple[argparse.Namespace, list[str]]:
            words = list(sys.argv[1:] if args is None else args)
            own: list[str] = []
            while words and (
                words[0] in _TRACE_OPTIONS or words[0] in ("-h", "--help")
            ):
                word = words.pop(0)
                own.append(word)
                if _TRACE_OPTIONS.get(word) and words:
                    own.append(words.pop(0))
            parsed, extra = super().parse_known_args(own, namespace)
            parsed.qemu_args = words
            return parsed, extra

    return QemuTraceParser


def add_lab_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lab`` and its subcommands to the main parser's subparsers *sub*."""
    lab = sub.add_parser(
        "lab",
        help="a real arm64 KVM: Debian's kernel under TCG",
        description="A real arm64 KVM: Debian's 6.1 kernel under QEMU TCG with "
        "EL2. It lives in $VIRTMODEL_LAB_DIR, else $XDG_CACHE_HOME/virtmodel/lab, "
        "else ~/.cache/virtmodel/lab, unless --dir says otherwise.",
    )
    lab.add_argument(
        "--dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="lab directory (default: ~/.cache/virtmodel/lab)",
    )
    inner = lab.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    setup = inner.add_parser(
        "setup", help="fetch and build the lab (kernel, busybox, arm64 QEMU, helpers)"
    )
    setup.add_argument(
        "--python",
        action="store_true",
        help="also pack Debian's arm64 Python and the wheels 'lab run' needs "
        "(else the first 'lab run' does it)",
    )
    kvm = inner.add_parser(
        "kvm",
        help="run KVM scripts on the real kernel",
        description="Run each FILE (a KVM script: one call per line, see "
        "docs/lab.md) on the lab's /dev/kvm, all in one guest boot, and print "
        "'<line> <ret> <errno> <value-or-->  # <call>' per call.",
    )
    kvm.add_argument("files", nargs="+", metavar="FILE", help="KVM script files")
    kvm.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help=_TIMEOUT_HELP
    )
    kvm.add_argument("--console", action="store_true", help=_CONSOLE_HELP)
    # qemu-trace passes unknown words on to QEMU, so it needs its own class.
    saved = inner._parser_class
    inner._parser_class = _trace_parser_class(saved)
    try:
        trace = inner.add_parser(
            "qemu-trace",
            help="run Debian's arm64 QEMU 7.2 under real KVM and print its KVM calls",
            description="Each group of QEMU ARGS (groups separated by --) is "
            "one configuration, run in one guest boot after -accel kvm -S "
            "-nographic -nic none; -M virt and -cpu host are added when "
            "missing. Without ARGS: " + " ".join(DEFAULT_CONFIGURATION) + ".",
            usage="virtmodel lab qemu-trace [--timeout S] [--all] [--full] [--json] "
            "[--raw] [--reset] [--console] [QEMU ARGS] [-- QEMU ARGS ...]",
        )
    finally:
        inner._parser_class = saved
    run = inner.add_parser(
        "run",
        help="run virtmodel itself in the guest, against its real KVM",
        usage="virtmodel lab run [--timeout S] -- VIRTMODEL ARGS",
    )
    run.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help=_TIMEOUT_HELP
    )
    run.add_argument("words", nargs=argparse.REMAINDER, metavar="VIRTMODEL ARGS")
    trace.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help=_TIMEOUT_HELP
    )
    trace.add_argument(
        "--all", action="store_true", help="also print capability probes"
    )
    trace.add_argument(
        "--full",
        action="store_true",
        help="print every call (runs of alike calls are folded otherwise, as in run)",
    )
    trace.add_argument("--json", action="store_true", help="print records as JSON")
    trace.add_argument("--raw", action="store_true", help="print the tracer's log")
    trace.add_argument(
        "--reset",
        action="store_true",
        help="also send system_reset on QEMU's monitor once it has started",
    )
    trace.add_argument("--console", action="store_true", help=_CONSOLE_HELP)


def _progress(text: str) -> None:
    print(f"lab setup: {text}", file=sys.stderr, flush=True)


def _paths(args: argparse.Namespace) -> LabPaths:
    chosen = getattr(args, "dir", None)  # --dir has no default: the env decides
    return LabPaths(Path(chosen) if chosen else lab_dir())


def _setup(args: argparse.Namespace) -> int:
    from virtmodel.machine.lab.setup import setup_lab

    paths = setup_lab(_paths(args), progress=_progress)
    kernel = paths.kernel_release.read_text().strip()
    qemu = paths.qemu_version.read_text().strip()
    print(f"lab ready in {paths.root}: kernel {kernel}, qemu-system-arm {qemu}")
    if getattr(args, "python", False):
        from virtmodel.machine.lab.python import python_archive

        print(f"lab python ready: {python_archive(paths, _progress)}")
    return EXIT_OK


def _kvm(args: argparse.Namespace) -> int:
    from virtmodel.machine.lab.batch import run_kvm_scripts
    from virtmodel.machine.lab.script import ScriptError, parse_script

    texts = []
    for name in args.files:
        with open(name, encoding="utf-8") as handle:
            texts.append(handle.read())
        try:
            parse_script(texts[-1])
        except ScriptError as exc:
            raise ScriptError(exc.line, exc.detail, f"{name}: ") from exc
    console = sys.stderr if args.console else None
    results = run_kvm_scripts(
        texts, timeout=args.timeout, console=console, paths=_paths(args)
    )
    for name, answers in zip(args.files, results, strict=True):
        if len(args.files) > 1:
            print(f"# {name}")
        for answer in answers:
            print(answer)
    return EXIT_OK


def _qemu_trace(args: argparse.Namespace) -> int:
    from virtmodel.machine.lab.batch import trace_qemu
    from virtmodel.machine.lab.qemu import print_traces, split_configurations

    configs = split_configurations(args.qemu_args)
    console = sys.stderr if args.console else None
    traces = trace_qemu(
        configs,
        timeout=args.timeout,
        reset=args.reset,
        console=console,
        paths=_paths(args),
    )
    print_traces(
        traces, show_all=args.all, as_json=args.json, raw=args.raw, full=args.full
    )
    return EXIT_OK if all(t.ok for t in traces) else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from virtmodel.machine.cli.status import UsageError
    from virtmodel.machine.lab.run import run_virtmodel

    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    if not words:
        msg = "lab run needs virtmodel's arguments, e.g.: lab run -- run -accel kvm"
        raise UsageError(msg)
    return run_virtmodel(words, timeout=args.timeout, paths=_paths(args))


def cmd_lab(args: argparse.Namespace) -> int:
    """Run ``virtmodel lab SUBCOMMAND``; a lab failure is one line, exit 1."""
    handlers = {
        "setup": _setup,
        "kvm": _kvm,
        "qemu-trace": _qemu_trace,
        "run": _run,
    }
    try:
        return handlers[args.lab_command](args)
    except LabError as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        print(f"virtmodel: lab: {lines[0]}", file=sys.stderr)
        return EXIT_FAILED
