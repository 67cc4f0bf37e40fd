"""Ordered notifiers: callbacks that declare what they run after and before.

:class:`NotifierRegistry` is the heart of virtmodel; :class:`NotifierList`
models QEMU's newest-first list for comparison.
"""

from __future__ import annotations

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
from notifiers.hazards import Hazard
from notifiers.notifier import Notifier
from notifiers.qemu_list import (
    ListNotifier,
    NotifierList,
    NotifierWithReturnList,
    ReturnNotifier,
)
from notifiers.registry import NotifierRegistry
from notifiers.trace import Status, Step, Trace

__all__ = [
    "AlreadyNotifiedError",
    "CycleError",
    "DroppedEdge",
    "DuplicateNotifierError",
    "Edge",
    "Explanation",
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
    "ReturnNotifier",
    "Status",
    "Step",
    "Trace",
    "UnknownNotifierError",
]
