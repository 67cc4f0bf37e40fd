"""Ordered notifiers: callbacks that declare what they run after and before.

:class:`NotifierRegistry` is the heart of virtmodel; :class:`NotifierList`
models QEMU's newest-first list for comparison; :func:`explore` runs a phase
under every valid order and names the pair whose order decides the outcome
(the function shadows its module on the package, as intended;
``from notifiers.explore import X`` still works).
"""

from __future__ import annotations

from notifiers.culprit import Culprit
from notifiers.edges import DroppedEdge, Edge
from notifiers.errors import (
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
from notifiers.explain import Explanation
from notifiers.exploration import Exploration
from notifiers.explore import Built, ExploreError, explore
from notifiers.hazards import Hazard
from notifiers.notifier import Notifier
from notifiers.outcome import Failure, Outcome
from notifiers.qemu_list import (
    ListNotifier,
    NotifierList,
    NotifierWithReturnList,
    ReturnNotifier,
)
from notifiers.registry import NotifierRegistry
from notifiers.tiebreak import Conflict, tie_break_pairs
from notifiers.trace import Status, Step, Trace

__all__ = [
    "AlreadyNotifiedError",
    "Built",
    "Conflict",
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
