"""The ``virtmodel`` command line's entry point (DESIGN.md §6).

Every error is one line on stderr: exit status 2 for bad usage or bad
options, 1 for a machine that fails to come up; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from virtmodel.machine.cli.parser import build_parser
from virtmodel.machine.cli.status import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandFailedError,
    UsageError,
    one_line,
)
from virtmodel.machine.errors import HelpRequested, MachineError, MachineFailedError

#: 128 + SIGPIPE: what a shell reports for a writer whose reader left.
EXIT_BROKEN_PIPE = 141


def _commands() -> dict[str, Callable[[argparse.Namespace], int]]:
    # Imported late: the commands pull in the whole board.
    from virtmodel.machine.cli import commands, info
    from virtmodel.machine.serve.command import cmd_serve

    return {
        "run": commands.cmd_run,
        "dtb": commands.cmd_dtb,
        "dts": commands.cmd_dts,
        "boot": commands.cmd_boot,
        "graph": commands.cmd_graph,
        "explain": commands.cmd_explain,
        "explore": commands.cmd_explore,
        "info": info.cmd_info,
        "lab": _cmd_lab,
        "serve": cmd_serve,
    }


def _cmd_lab(args: argparse.Namespace) -> int:
    from virtmodel.machine.lab.cli import cmd_lab  # the lab needs no board

    return cmd_lab(args)


def _notifier_errors() -> tuple[type[Exception], ...]:
    """Return the registry's error base if a command loaded the registry.

    Evaluated only when an exception reaches the clause, so ``dtb`` and
    ``dts``, which never touch notifiers, do not import them (nor networkx).
    """
    errors = sys.modules.get("virtmodel.notifiers.errors")
    return () if errors is None else (errors.NotifierError,)


def _quiet_broken_pipe() -> int:
    """End quietly when the reader went away (``virtmodel run ... | head -1``).

    Standard output is pointed at /dev/null so the interpreter's final flush
    does not fail a second time; the status is the shell's for SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    # pydantic looks for plugins in every installed distribution when the
    # first model is built; the command line uses none, so it skips the
    # scan unless the user asked for plugins explicitly.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        args = build_parser().parse_args(argv)
        return _commands()[args.command](args)
    except HelpRequested as exc:
        sys.stdout.write(exc.text)
        return EXIT_OK
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except UsageError as exc:
        print(f"virtmodel: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MachineFailedError as exc:
        print(f"virtmodel: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except CommandFailedError as exc:
        print(f"virtmodel: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except MachineError as exc:
        # The project's own errors about what the user asked for (the
        # registry's are caught below); any other exception is a bug and
        # keeps its traceback.
        print(f"virtmodel: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        # A file we were told to read or write (-o, --kernel) is unusable:
        # bad usage, not a machine that failed to come up.
        print(f"virtmodel: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if not isinstance(exc, _notifier_errors()):
            raise  # a bug: keep its traceback
        print(f"virtmodel: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("virtmodel: interrupted", file=sys.stderr)
        return 130
