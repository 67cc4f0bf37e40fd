"""The ``virtmodel serve`` subcommand: check the options, then serve the page."""

from __future__ import annotations

import argparse
import sys

from virtmodel.machine.cli.status import EXIT_OK, UsageError

#: QEMU option -> the page's setting it starts. Repeated -M, -smp and -m
#: merge (joined by commas, later keys win, as QEMU merges them); for -cpu
#: and -accel the last one counts.
QEMU_SETTINGS = {"-M": "machine", "-smp": "smp", "-m": "memory", "-cpu": "cpu"}
#: Namespace attribute -> the page's setting it starts.
VARIANT_SETTINGS = {
    "kernel_semantics": "kernel",
    "notifiers": "notifiers",
    "its_init": "its_init",
}


def page_settings(args: argparse.Namespace) -> dict[str, str | None]:
    """Return the page's starting settings from the command line.

    Raises:
        UsageError: A QEMU option the page has no setting for.
    """
    given: dict[str, str | None] = dict.fromkeys(
        (*QEMU_SETTINGS.values(), "accel", *VARIANT_SETTINGS.values())
    )
    for option, value in getattr(args, "qemu_args", ()):
        if option in QEMU_SETTINGS:
            key = QEMU_SETTINGS[option]
            merged = option != "-cpu" and given[key] is not None
            given[key] = f"{given[key]},{value}" if merged else value
        elif option == "-accel":
            given["accel"] = value
        elif option == "-enable-kvm":
            given["accel"] = "kvm"
        else:
            msg = (
                f"serve: {option} is not a setting of the page "
                "(use -M, -smp, -m, -cpu, -accel)"
            )
            raise UsageError(msg)
    for key, setting in VARIANT_SETTINGS.items():
        given[setting] = getattr(args, key)
    return given


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the classroom page on 127.0.0.1 until interrupted.

    Raises:
        UsageError: A bad port, or options the page cannot start from.
        ConfigError: Bad machine options.
        OSError: The port cannot be bound (exit 2, naming it).
    """
    from virtmodel.machine.boards.virt.lesson import fresh_virt
    from virtmodel.machine.serve import api
    from virtmodel.machine.serve.server import HOST, make_server

    if not 0 <= args.port <= 65535:
        msg = f"--port {args.port} is not a port number (0-65535; 0 picks a free one)"
        raise UsageError(msg)
    if args.drop_edge or args.strict or args.seed is not None:
        msg = "serve: --drop-edge, --strict and --seed are chosen on the page"
        raise UsageError(msg)
    given = page_settings(args)
    if given["accel"] == "tcg" and args.kernel_semantics not in (None, "mainline"):
        msg = "--kernel-semantics needs -accel kvm: under TCG no kernel is involved"
        raise UsageError(msg)
    start = api.defaults(given)
    try:
        settings = api.Settings({}, start)
    except api.ApiError as error:
        raise UsageError(error.reason) from None
    fresh_virt(**settings.build())  # ConfigError now, not on the page
    try:
        server = make_server(args.port, start)
    except OSError as error:
        msg = f"cannot listen on {HOST}:{args.port}: {error.strerror or error}"
        raise UsageError(msg) from None
    print(f"virtmodel serve: {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("virtmodel serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return EXIT_OK
