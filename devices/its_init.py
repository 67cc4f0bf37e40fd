"""Where an in-kernel ITS gets its CTRL_INIT (the ITS's ``its_init`` property).

- ``"realize"``: in the ITS's realize, as QEMU does since 2.8 (the default);
- ``"init-done"``: in a machine-init-done notifier of its own, declared after
  the ITS's address write -- the arrangement proposed in July 2016.

Defined here once; the ITS's property, the board, the command line's
``--its-init``, the classroom page and the ITS matrix take their values from
this module. A ``Literal``, not an enum: pydantic validates the property
against it with its usual message, the value is given and shown as the plain
string a user types, and mypy checks every spelling against this one. It
imports nothing, so the command-line parser pays nothing for it.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

#: Where CTRL_INIT happens.
ItsInit = Literal["realize", "init-done"]
#: The placements, the default first.
ITS_INITS: Final[tuple[ItsInit, ...]] = get_args(ItsInit)


def is_its_init(value: object) -> TypeGuard[ItsInit]:
    """Return whether *value* is an ITS CTRL_INIT placement."""
    return value in ITS_INITS
