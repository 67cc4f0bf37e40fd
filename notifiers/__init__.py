"""Ordered notifiers: callbacks that declare what they run after and before.

:class:`NotifierRegistry` is the heart of virtmodel; :class:`NotifierList`
models QEMU's newest-first list for comparison; :func:`explore` runs a phase
under every valid order and names the pair whose order decides the outcome
(the function shadows its module on the package, as intended;
``from virtmodel.notifiers.explore import X`` still works).
"""

from __future__ import annotations

from virtmodel.notifiers.conflicts import Conflict, tie_break_pairs
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
from virtmodel.notifiers.explain import Explanation
from virtmodel.notifiers.explore import Built, Exploration, ExploreError, explore
from virtmodel.notifiers.explore.culprit import Culprit
from virtmodel.notifiers.explore.outcome import Failure, Outcome
from virtmodel.notifiers.hazards import Hazard
from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.qemu_list import (
    ListNotifier,
    NotifierList,
    NotifierWithReturnList,
    ReturnNotifier,
)
from virtmodel.notifiers.registry import NotifierRegistry
from virtmodel.notifiers.trace import Status, Step, Trace

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
