"""The two ways the machine-init-done notifiers can run (DESIGN.md §5).

- ``"ordered"``: the notifier registry decides, in declared dependency order
  (virtmodel's cure; the default);
- ``"qemu-lifo"``: QEMU's ``NotifierList`` decides, newest registered first.

Defined here once; ``Machine``, the command line's ``--notifiers``, the
classroom page and the ITS matrix take their values from this module.
A ``Literal``, not an enum: the mode is given and shown as the plain string a
user types (``Machine(notifiers="qemu-lifo")``, ``--notifiers``, a query
string, ``# notifiers=ordered`` in a trace header), and messages that quote
it with ``repr`` read as before; mypy checks every spelling against this one.
It imports nothing, so the command-line parser pays nothing for it.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

#: How the machine-init-done notifiers run.
NotifierMode = Literal["ordered", "qemu-lifo"]
#: The modes, the default first.
NOTIFIER_MODES: Final[tuple[NotifierMode, ...]] = get_args(NotifierMode)


def is_notifier_mode(value: object) -> TypeGuard[NotifierMode]:
    """Return whether *value* is a notifier mode."""
    return value in NOTIFIER_MODES
