"""What every command shares: exit statuses, the usage error, JSON output.

Both the parser and the commands import this module, and it imports neither,
so the command line has no import cycle.
"""

from __future__ import annotations

from typing import Final

#: The machine came up (or the command did what it was asked).
EXIT_OK: Final = 0
#: The machine failed to come up.
EXIT_FAILED: Final = 1
#: Bad usage: an unknown option, a malformed value, an unusable file.
EXIT_USAGE: Final = 2
#: The machine came up, but ``run --check`` found notifier hazards.
EXIT_HAZARDS: Final = 3

#: The exit statuses as ``--help`` and the README list them.
EXIT_STATUSES: Final = (
    (EXIT_OK, "the machine came up (or the command did what it was asked)"),
    (
        EXIT_FAILED,
        "the machine failed to come up (explore: the order decides the outcome)",
    ),
    (EXIT_USAGE, "bad input: an unknown option, a malformed value, an unusable file"),
    (EXIT_HAZARDS, "run --check: the machine came up, but notifier hazards were found"),
)


class UsageError(Exception):
    """Bad usage of the command line; exit status 2."""


class CommandFailedError(Exception):
    """An outside program the command needs (Graphviz's dot) failed; exit 1."""


def one_line(exc: BaseException) -> str:
    """Return the first line of *exc*'s message (its type name if empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def print_json(data: object) -> None:
    """Print *data* as stable, indented JSON."""
    import json  # only --json output needs it; every command imports this module

    print(json.dumps(data, indent=2, sort_keys=True, default=str))
