"""The ``virtmodel serve`` subcommand: check the options, then serve the page."""

from __future__ import annotations

import argparse
import sys

from virtmodel.machine.cli.status import EXIT_OK, UsageError

#: Namespace attribute -> the page's setting it starts.
SETTINGS = {
    "machine": "machine",
    "smp": "smp",
    "memory": "memory",
    "cpu": "cpu",
    "accel": "accel",
    "kernel_semantics": "kernel",
    "notifiers": "notifiers",
    "its_init": "its_init",
}


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
    if args.accel == "tcg" and args.kernel_semantics not in (None, "mainline"):
        msg = "--kernel-semantics needs -accel kvm: under TCG no kernel is involved"
        raise UsageError(msg)
    given = {SETTINGS[key]: getattr(args, key) for key in SETTINGS}
    start = api.defaults(given)  # argparse already checked the choices
    fresh_virt(**api.Settings({}, start).build())  # ConfigError now, not on the page
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
