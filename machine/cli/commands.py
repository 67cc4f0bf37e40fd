"""What each ``virtmodel`` subcommand does; the parser is in ``cli.parser``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from virtmodel.machine.boards.virt.cmdline import (
    config_from_command_line,
    read_command_line,
)
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.cli.choices import RENDERED_FORMATS, GraphPhase
from virtmodel.machine.cli.progress import ClearingStream, Progress
from virtmodel.machine.cli.status import (
    EXIT_FAILED,
    EXIT_HAZARDS,
    EXIT_OK,
    CommandFailedError,
    UsageError,
    print_json,
)
from virtmodel.machine.errors import ConfigError, MachineFailedError
from virtmodel.machine.kvm.eras import DEFAULT_NAMES, Backend

if TYPE_CHECKING:
    # Only the commands that build a machine pay for the notifier registry
    # and networkx; dtb and dts import just the device-tree path.
    from virtmodel.machine.boards.virt.board import VirtBoard
    from virtmodel.machine.init_done import InitDone
    from virtmodel.machine.machine import Machine
    from virtmodel.notifiers import NotifierRegistry


def config_from(
    args: argparse.Namespace, *, images: bool = True, **extra: Any
) -> VirtConfig:
    """Return the VirtConfig the QEMU options in *args* describe, merged as QEMU does.

    Raises:
        ConfigError: An option is unknown, malformed or beyond a limit.
        HelpRequested: A ``help`` value (``-M help``, ``-cpu help``).
    """
    line = read_command_line(getattr(args, "qemu_args", ()))
    machine_type = line.machine.get("type", "virt")
    if not machine_type.strip():
        option, problem = "machine", "no machine type given; use -M virt"
        raise ConfigError(option, machine_type, problem)
    config = config_from_command_line(line, images=images, **extra)
    for warning in (*line.warnings, *config.warnings):
        print(f"virtmodel: warning: {warning}", file=sys.stderr)
    return config


def _drop_edges(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = []
    for text in args.drop_edge:
        name, sep, target = text.partition("=")
        if not sep or not name or not target:
            msg = f"--drop-edge {text!r} must look like NOTIFIER=TARGET"
            raise UsageError(msg)
        pairs.append((name, target))
    return pairs


def machine_from(args: argparse.Namespace, config: VirtConfig | None = None) -> Machine:
    """Return the (not yet started) virt machine the options describe.

    Raises:
        ConfigError: Bad machine options.
        UsageError: A bad ``--drop-edge``.
    """
    from virtmodel.machine.boards.virt.board import create_virt

    backend: Backend = args.kvm_backend if "kvm_backend" in args else "sim"
    if backend != "sim" and args.kernel_semantics not in DEFAULT_NAMES:
        msg = "--kernel-semantics picks the simulator's kernel; --kvm host has its own"
        raise UsageError(msg)
    if config is None:
        config = config_from(args)
    if config.accel != "kvm" and args.kernel_semantics not in DEFAULT_NAMES:
        msg = "--kernel-semantics needs -accel kvm: under TCG no kernel is involved"
        raise UsageError(msg)
    if backend != "sim" and config.accel != "kvm":
        msg = f"--kvm {backend} needs -accel kvm: under TCG no kernel is involved"
        raise UsageError(msg)
    return create_virt(
        config,
        kernel_semantics=args.kernel_semantics,
        notifiers=args.notifiers,
        its_init=args.its_init,
        strict=args.strict,
        drop_edges=_drop_edges(args),
        seed=args.seed,
        kvm_backend=backend,
    )


def _check_drops_used(machine: Machine) -> None:
    unused = machine.unused_drop_edges()
    if unused:
        name, target = unused[0]
        msg = (
            f"--drop-edge {name}={target}: {name!r} declares no "
            f"after=/before= {target!r}"
        )
        raise UsageError(msg)


def cmd_run(args: argparse.Namespace) -> int:
    """Bring the machine up to its first vCPU run and print the trace.

    With ``--json`` stdout is one JSON document (the trace, the init-done
    order that ran, the declared edges it broke and, with ``--check``, the
    hazards). Exit status: 1 if the machine failed to come up, else 3 if
    ``--check`` found hazards, else 0.
    """
    from virtmodel.machine.boards.virt.board import boot_virt

    machine = machine_from(args)
    failure: MachineFailedError | None = None
    try:
        boot_virt(machine)
    except MachineFailedError as exc:
        failure = exc
    finally:
        close = getattr(machine.accel, "close", None)
        if close is not None:
            close()  # the host backend's fds and mappings
    _check_drops_used(machine)
    init_done = machine.init_done
    hazards = init_done.hazards() if args.check else []
    if args.json:
        document: dict[str, object] = {
            "trace": machine.trace.as_dicts(),
            "failed": str(failure) if failure else None,
            "init_done_order": init_done.order(),
            "violated_edges": [e.as_dict() for e in init_done.violated_edges()],
        }
        if args.check:
            document["hazards"] = [hazard.as_dict() for hazard in hazards]
        print_json(document)
    else:
        kvm = _board(machine).config.accel == "kvm"
        text = machine.trace.format(fold=not args.full)
        shown = text.count("\n") + 1
        folded = (
            f"; {len(machine.trace)} entries in {shown} lines, --full prints each"
            if shown < len(machine.trace)
            else ""
        )
        print(f"# virtmodel run: {_board(machine).config.describe()}")
        print(
            f"# notifiers={machine.notifier_mode} its-init={args.its_init} "
            f"kernel={_kernel_label(args) if kvm else '-'}{folded}"
        )
        print(text)
        if args.mtree:
            sys.stdout.write(_mtree(machine))
        if args.check:
            for hazard in hazards:
                print(f"hazard: {hazard}")
            if not hazards:
                print("hazards: none: every reader runs after every writer")
    if failure is not None:
        raise failure
    return EXIT_HAZARDS if hazards else EXIT_OK


def _mtree(machine: Machine) -> str:
    """Return ``info mtree`` for the machine: QEMU's view of the same config.

    The devices were placed from that config, and map QEMU's region sizes;
    the ``pvtime`` RAM is there when this run's kernel gave stolen time.
    """
    from virtmodel.machine.boards.virt.memtree import virt_address_spaces
    from virtmodel.machine.mtree import format_mtree

    config = _board(machine).config
    pvtime = "pvtime" in machine.memory
    return format_mtree(virt_address_spaces(config, pvtime=pvtime))


def _kernel_label(args: argparse.Namespace) -> str:
    if getattr(args, "kvm_backend", "sim") == "host":
        import platform

        return f"host ({platform.release()})"
    return str(args.kernel_semantics)


def cmd_dtb(args: argparse.Namespace) -> int:
    """Write the machine's DTB to ``-o`` atomically."""
    from virtmodel.machine.boards.virt.dtb import cmd_dtb

    if not args.output.strip():
        msg = "-o needs a file name"
        raise UsageError(msg)
    cmd_dtb(config_from(args), Path(args.output), args.seed)
    return EXIT_OK


def cmd_dts(args: argparse.Namespace) -> int:
    """Print the machine's device tree source."""
    from virtmodel.machine.boards.virt.dtb import cmd_dts

    sys.stdout.write(cmd_dts(config_from(args), args.seed))
    return EXIT_OK


def cmd_boot(args: argparse.Namespace) -> int:
    """Boot a kernel under qemu-system-aarch64 on virtmodel's device tree."""
    from virtmodel.machine.boards.virt.dtb import build_virt_dtb
    from virtmodel.machine.qemu.boot import BootError, boot

    config = config_from(args, images=False)
    if config.accel != "tcg":
        msg = "boot runs QEMU with TCG here (no /dev/kvm); drop -accel kvm"
        raise UsageError(msg)
    if config.kernel is None:
        msg = "boot needs -kernel IMAGE"
        raise UsageError(msg)
    # The images are checked by qemu.boot, which names the one it cannot read.
    dtb = build_virt_dtb(config, args.seed).to_dtb(None)
    waiting = Progress("boot: guest running", "s")
    console = ClearingStream(sys.stdout, waiting)
    try:
        with waiting:
            result = boot(
                config,
                dtb=dtb,
                kernel=Path(config.kernel),
                append=config.append,
                initrd=Path(config.initrd) if config.initrd else None,
                timeout=args.timeout,
                console=console,  # type: ignore[arg-type]  # writes and flushes
                qemu=args.qemu,
                tick=lambda elapsed: waiting(round(elapsed), args.timeout),
            )
    except BootError as exc:
        if exc.qemu_status is None:
            raise  # refused before QEMU started: bad input, exit 2
        print(f"virtmodel: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if result.panic is not None:
        print(f"virtmodel: guest panicked: {result.panic}", file=sys.stderr)
        return EXIT_FAILED
    if result.timed_out:
        print(
            f"virtmodel: guest still running after {args.timeout:g} s; QEMU stopped",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK if result.ok else EXIT_FAILED


def _board(machine: Machine) -> VirtBoard:
    from virtmodel.machine.boards.virt.board import virt_board

    return virt_board(machine)


def _initialized(args: argparse.Namespace) -> Machine:
    """Return the machine brought to MACHINE_INITIALIZED: every notifier declared."""
    machine = machine_from(args)
    machine.create()
    machine.create_accel()
    machine.init_board(_board(machine).init)
    _check_drops_used(machine)
    return machine


def _registry(machine: Machine, phase: GraphPhase) -> NotifierRegistry[Machine]:
    if phase == "realize":
        return machine.realize_registry
    if phase == "reset":
        machine.enter_ready()
        machine.init_done.notify()
        return machine.reset_notifiers
    return machine.init_done.registry


def cmd_graph(args: argparse.Namespace) -> int:
    """Print or render the phase's notifier graph."""
    machine = _initialized(args)
    view: NotifierRegistry[Machine] | InitDone = _registry(machine, args.phase)
    if args.phase == "init-done":
        # Numbered in the order that runs; edges QEMU's list breaks drawn so.
        view = machine.init_done
    text = view.to_mermaid() if args.format == "mermaid" else view.to_dot()
    if args.format in RENDERED_FORMATS:
        if args.output is None:
            msg = f"--format {args.format} needs -o FILE"
            raise UsageError(msg)
        import shutil  # only rendering runs a program
        import subprocess

        dot = shutil.which("dot")
        if dot is None:
            msg = "--format svg/png needs Graphviz's 'dot' (Debian package 'graphviz')"
            raise UsageError(msg)
        from virtmodel.machine.files import write_atomic

        done = subprocess.run(
            [dot, f"-T{args.format}"],
            input=text.encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            msg = f"{dot} -T{args.format} failed with status {done.returncode}"
            raise CommandFailedError(msg + (f": {said[0]}" if said else ""))
        write_atomic(Path(args.output), done.stdout)
        return EXIT_OK
    if args.output is not None:
        from virtmodel.machine.files import write_atomic

        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain why notifier A runs before B on this machine."""
    explanation = _initialized(args).init_done.explain(args.first, args.second)
    if getattr(args, "json", False):
        print_json(explanation.as_dict())
    else:
        print(explanation)
    return EXIT_OK


def cmd_explore(args: argparse.Namespace) -> int:
    """Run init-done under its classes of equivalent orders; report what differs."""
    from virtmodel.machine.boards.virt.explore import init_done_builder
    from virtmodel.notifiers.explore import explore

    if args.notifiers != "ordered":
        msg = "explore runs the registry's orders; --notifiers qemu-lifo has only one"
        raise UsageError(msg)
    build, check = init_done_builder(
        config_from(args),
        kernel_semantics=args.kernel_semantics,
        its_init=args.its_init,
        drop_edges=_drop_edges(args),
    )
    reduce = not args.all_orders
    unit = "classes" if reduce else "orders"
    with Progress("explore", unit, quiet=args.json) as progress:
        result = explore(
            build,
            check=check,
            limit=args.limit,
            seed=args.seed or 0,
            reduce=reduce,
            progress=progress,
        )
    if args.json:
        print_json(result.as_dict())
    else:
        print(result)
    return EXIT_OK if result.order_independent else EXIT_FAILED
