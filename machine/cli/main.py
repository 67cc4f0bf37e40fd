"""The ``virtmodel`` command line's entry point (DESIGN.md §6).

Every error is one line on stderr: exit status 2 for bad usage or bad
options, 1 for a machine that fails to come up; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from virtmodel.machine.cli.parser import COMMANDS, build_parser
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


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """Return *command*'s handler, importing its module only now.

    ``dtb`` thus loads the device-tree path, never the lab, the page or the
    notifier registry.
    """
    if command == "lab":
        from virtmodel.machine.lab.cli import cmd_lab  # the lab needs no board

        return cmd_lab
    if command == "serve":
        from virtmodel.machine.serve.command import cmd_serve

        return cmd_serve
    if command == "info":
        from virtmodel.machine.cli.info import cmd_info

        return cmd_info
    from virtmodel.machine.cli import commands  # the board's commands

    handler: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{command}")
    return handler


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
        words = sys.argv[1:] if argv is None else list(argv)
        # Only the chosen command's options are built (the lab's parser
        # imports the lab); anything else (``--help``) builds them all.
        chosen = words[0] if words and words[0] in COMMANDS else None
        args = build_parser(chosen).parse_args(words)
        return _handler(args.command)(args)
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
