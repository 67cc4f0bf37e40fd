"""What each ``virtmodel`` subcommand does; the parser is in ``cli.parser``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.cli.progress import ClearingStream, Progress
from virtmodel.machine.cli.status import (
    EXIT_FAILED,
    EXIT_OK,
    CommandFailedError,
    UsageError,
    print_json,
)
from virtmodel.machine.errors import ConfigError, MachineFailedError

if TYPE_CHECKING:
    # Only the commands that build a machine pay for the notifier registry
    # and networkx; dtb and dts import just the device-tree path.
    from virtmodel.machine.machine import Machine
    from virtmodel.notifiers import NotifierRegistry


def config_from(args: argparse.Namespace, **extra: object) -> VirtConfig:
    """Return the VirtConfig the machine options in *args* describe.

    Raises:
        ConfigError: An option is unknown, malformed or beyond a limit.
    """
    machine = args.machine
    if not machine.strip():
        option, problem = "machine", "no machine type given; use -M virt"
        raise ConfigError(option, machine, problem)
    config = VirtConfig.from_options(
        machine,
        smp=args.smp,
        memory=args.memory,
        cpu=args.cpu,
        accel=args.accel,
        **extra,
    )
    for warning in config.warnings:
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

    if args.accel != "kvm" and args.kernel_semantics not in ("v6.1", "mainline"):
        msg = "--kernel-semantics needs -accel kvm: under TCG no kernel is involved"
        raise UsageError(msg)
    return create_virt(
        config if config is not None else config_from(args),
        kernel_semantics=args.kernel_semantics,
        notifiers=args.notifiers,
        its_init=args.its_init,
        strict=args.strict,
        drop_edges=_drop_edges(args),
        seed=args.seed,
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
    """Bring the machine up to its first vCPU run and print the trace."""
    from virtmodel.machine.boards.virt.board import boot_virt

    machine = machine_from(args)
    failure: MachineFailedError | None = None
    try:
        boot_virt(machine)
    except MachineFailedError as exc:
        failure = exc
    _check_drops_used(machine)
    hazards = machine.init_done.registry.hazards() if args.check else []
    if args.check:
        for hazard in hazards:
            print(f"hazard: {hazard}")
        if not hazards:
            print("hazards: none: every reader is ordered after every writer")
    if args.json:
        print_json(
            {
                "trace": machine.trace.as_dicts(),
                "failed": str(failure) if failure else None,
            }
        )
    else:
        print(f"# virtmodel run: {machine.board.config.describe()}")
        print(
            f"# notifiers={machine.notifier_mode} its-init={args.its_init} "
            f"kernel={args.kernel_semantics if args.accel == 'kvm' else '-'}"
        )
        print(machine.trace)
        if args.mtree:
            print(machine.memory.dump())
    if failure is not None:
        raise failure
    return EXIT_FAILED if hazards else EXIT_OK


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

    if args.accel != "tcg":
        msg = "boot runs QEMU with TCG here (no /dev/kvm); drop -accel kvm"
        raise UsageError(msg)
    config = config_from(
        args, kernel=args.kernel, initrd=args.initrd, append=args.append
    )
    dtb = build_virt_dtb(config, args.seed).to_dtb(None)
    waiting = Progress("boot: guest running", "s")
    console = ClearingStream(sys.stdout, waiting)
    try:
        with waiting:
            result = boot(
                config,
                dtb=dtb,
                kernel=Path(args.kernel),
                append=args.append,
                initrd=Path(args.initrd) if args.initrd else None,
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


def _initialized(args: argparse.Namespace) -> Machine:
    """Return the machine brought to MACHINE_INITIALIZED: every notifier declared."""
    machine = machine_from(args)
    machine.create()
    machine.create_accel()
    machine.init_board(machine.board.init)
    _check_drops_used(machine)
    return machine


def _registry(machine: Machine, phase: str) -> NotifierRegistry[Machine]:
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
    registry = _registry(machine, args.phase)
    text = registry.to_mermaid() if args.format == "mermaid" else registry.to_dot()
    if args.phase == "init-done" and args.notifiers == "qemu-lifo":
        # The numbers are the declared order; QEMU's list ignores it.
        lifo = ", ".join(machine.init_done.order())
        mark = "%%" if args.format == "mermaid" else "//"
        first, _, rest = text.partition("\n")
        text = f"{first}\n  {mark} qemu-lifo: QEMU's list runs them {lifo}\n{rest}"
    if args.format in ("svg", "png"):
        if args.output is None:
            msg = f"--format {args.format} needs -o FILE"
            raise UsageError(msg)
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
    registry = _registry(_initialized(args), "init-done")
    print(registry.explain(args.first, args.second))
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
