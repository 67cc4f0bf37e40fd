"""Where a registry keeps its registrations, and the plan cached from them.

:class:`RegistryStore` is the storage half of
:class:`notifiers.registry.NotifierRegistry`: one plain row per registration
(see :data:`notifiers.notifier.Row`; no per-notifier object for the cyclic
GC to scan) and its callback, in registration order, and the
:class:`~notifiers.plan.Plan` computed from them, cached until the next
change. A plan shares the two dicts instead of copying them; the store
copies them before its next change (copy on write), so computing an order
copies nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from virtmodel.notifiers.notifier import Notifier, Row, records
from virtmodel.notifiers.plan import Plan, build_plan


class RegistryStore:
    """Registrations by name and the plan cached from them (see above)."""

    def __init__(self, event: str) -> None:
        self._event = event
        self._lock = threading.RLock()
        #: Registrations by name, in registration order, and their callbacks.
        self._rows: dict[str, Row] = {}
        self._callbacks: dict[str, Callable[..., object]] = {}
        # Whether a plan holds those two dicts (copy on write).
        self._shared = False
        self._rank = 0
        self._plan: Plan | None = None
        # Bumped by every mutation; a plan built from an older snapshot is
        # returned to its caller but not cached.
        self._version = 0

    def _snapshot(self) -> dict[str, Notifier]:
        with self._lock:
            return records(self._rows, self._callbacks)

    def _current_plan(self) -> Plan:
        # The sort runs outside the lock, on a snapshot, so threads adding and
        # removing notifiers are not held up while another computes an order.
        with self._lock:
            if self._plan is not None:
                return self._plan
            rows, callbacks = self._rows, self._callbacks
            self._shared = True
            version = self._version
        plan = build_plan(self._event, rows, callbacks)
        with self._lock:
            if self._version == version:
                self._plan = plan
        return plan

    def _unshare(self) -> None:
        # Called under the lock before changing registrations a plan holds.
        self._rows = dict(self._rows)
        self._callbacks = dict(self._callbacks)
        self._shared = False

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, name: object) -> bool:
        return name in self._rows
