"""Ordered notifiers: callbacks that declare what they run after and before.

:class:`NotifierRegistry` is the heart of virtmodel; :class:`NotifierList`
models QEMU's newest-first list for comparison; :func:`explore` runs a phase
under every valid order and names the pair whose order decides the outcome
(the function shadows its module on the package, as intended;
``from virtmodel.notifiers.explore import X`` still works).

Importing the package is cheap: networkx is imported when an order or graph
is first computed, and the analyses (``explore``, ``Conflict``,
``Explanation``, ``Hazard`` and friends) when first named (PEP 562), since
every command line start imports the registry and few use the rest.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Final

from virtmodel.notifiers.constraints import Constraints
from virtmodel.notifiers.edges import DroppedEdge, Edge
from virtmodel.notifiers.errors import (
    AlreadyNotifiedError,
    CycleError,
    DuplicateNotifierError,
    InvalidNotifierError,
    InvalidOrderError,
    LateRegistrationError,
    NotifierError,
    NotifierFailedError,
    UnknownNotifierError,
)
from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.qemu_list import (
    ListNotifier,
    NotifierList,
    NotifierWithReturnList,
    ReturnNotifier,
)
from virtmodel.notifiers.registry import NotifierRegistry
from virtmodel.notifiers.trace import Status, Step, Trace

if TYPE_CHECKING:
    from virtmodel.notifiers.conflicts import Conflict, tie_break_pairs
    from virtmodel.notifiers.explain import Explanation
    from virtmodel.notifiers.explore import Built, Exploration, ExploreError, explore
    from virtmodel.notifiers.explore.culprit import Culprit
    from virtmodel.notifiers.explore.outcome import Failure, Outcome
    from virtmodel.notifiers.hazards import Hazard

#: Names loaded on first use, and the module that defines each.
_LAZY: Final = {
    "Built": "virtmodel.notifiers.explore.search",
    "Conflict": "virtmodel.notifiers.conflicts",
    "Culprit": "virtmodel.notifiers.explore.culprit",
    "Exploration": "virtmodel.notifiers.explore.exploration",
    "ExploreError": "virtmodel.notifiers.explore.search",
    "Explanation": "virtmodel.notifiers.explain",
    "Failure": "virtmodel.notifiers.explore.outcome",
    "Hazard": "virtmodel.notifiers.hazards",
    "Outcome": "virtmodel.notifiers.explore.outcome",
    "explore": "virtmodel.notifiers.explore.search",
    "tie_break_pairs": "virtmodel.notifiers.conflicts",
}


def __getattr__(name: str) -> object:
    """Load a name of :data:`_LAZY` on first use (PEP 562)."""
    where = _LAZY.get(name)
    if where is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """This package, keeping the :func:`explore` function under its name.

    Loading the subpackage ``explore`` makes the import system bind it on
    this package, over the function of the same name (whoever imported it
    first, the function or some ``explore.*`` module); the function wins.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "explore" and isinstance(value, types.ModuleType):
            value = value.explore
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "AlreadyNotifiedError",
    "Built",
    "Conflict",
    "Constraints",
    "Culprit",
    "CycleError",
    "DroppedEdge",
    "DuplicateNotifierError",
    "Edge",
    "Explanation",
    "Exploration",
    "ExploreError",
    "Failure",
    "Hazard",
    "InvalidNotifierError",
    "InvalidOrderError",
    "LateRegistrationError",
    "ListNotifier",
    "Notifier",
    "NotifierError",
    "NotifierFailedError",
    "NotifierList",
    "NotifierRegistry",
    "NotifierWithReturnList",
    "Outcome",
    "ReturnNotifier",
    "Status",
    "Step",
    "Trace",
    "UnknownNotifierError",
    "explore",
    "tie_break_pairs",
]
