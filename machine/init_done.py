"""The machine-init-done event, run the QEMU way or the declared way.

Every notifier is declared in a ``NotifierRegistry`` (name, ``after=``,
``before=``, ``reads=``, ``writes=``), so the graph, ``explain`` and the
hazard check see the declarations in both modes. What differs is who
decides the order at run time:

- ``ordered``: the registry, in dependency order (virtmodel's cure);
- ``qemu-lifo``: a faithful QEMU ``NotifierList`` (newest first), which
  cannot honour a declaration; the registry keeps the declarations for the
  views, and the trace flags every ``after=``/``before=`` the list breaks.

Each callback is wrapped so the machine trace shows the notifier, its
declarations, and the KVM calls it makes nested under it.

Every view of the event (:meth:`InitDone.explain`, :meth:`InitDone.hazards`,
the graph exports) describes the order that actually runs: in ``qemu-lifo``
mode that is the list's, and the declarations it breaks are named.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from virtmodel.machine.errors import (
    MachineError,
    NotifierRaisedError,
    UndeclaredAccessError,
)
from virtmodel.machine.notifier_modes import NotifierMode
from virtmodel.machine.phases import Phase
from virtmodel.machine.trace import Kind
from virtmodel.notifiers import (
    Constraints,
    ListNotifier,
    NotifierError,
    NotifierList,
    NotifierRegistry,
)

if TYPE_CHECKING:
    from virtmodel.machine.machine import Machine
    from virtmodel.notifiers import Edge, Explanation, Hazard

#: What decides the order in qemu-lifo mode, as the views name it.
QEMU_LIST = "QEMU's newest-first list"

Callback = Callable[["Machine"], None]


# The folder that holds machine/, devices/ and notifiers/ as Python loaded
# them (the virtmodel package; not resolved, since the repository reaches them
# through .pkg/virtmodel's links): sites read "devices/its.py:81" everywhere.
_PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_OWN_FILES = (
    "machine/init_done.py",
    "machine/machine.py",
    "machine/kvm_addr.py",
    "machine/device_context.py",
)


def declaration_site() -> str:
    """Return "file:line" of the first caller outside the machine's plumbing.

    A notifier added through ``Machine.add_init_done`` is declared by the
    device or board that called it; that is where a fix belongs.
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.replace(
        "\\", "/"
    ).endswith(_OWN_FILES):
        frame = frame.f_back
    path = frame.f_code.co_filename
    if path.startswith(_PROJECT):
        # "devices/its.py:82", the same on every checkout (and cheap: this
        # runs for every notifier every machine declares).
        path = path[len(_PROJECT) :].replace(os.sep, "/")
    return f"{path}:{frame.f_lineno}"


class InitDone:
    """The machine-init-done notifiers of one machine."""

    def __init__(
        self,
        machine: Machine,
        mode: NotifierMode,
        *,
        drop_edges: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.machine = machine
        self.mode = mode
        #: The notifier running now, and the resources it declared.
        self.running: str | None = None
        self.running_resources: frozenset[str] = frozenset()
        #: (notifier, target) declarations to leave out, not yet matched.
        self._drop = set(drop_edges)
        #: Every declaration, whatever the mode.
        self.registry: NotifierRegistry[Machine] = NotifierRegistry("machine-init-done")
        self._list: NotifierList[Machine] | None = (
            NotifierList("machine-init-done") if mode == "qemu-lifo" else None
        )
        self._declared: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._ran: list[str] = []
        self._started: list[str] = []

    def add(self, name: str, callback: Callback, constraints: Constraints) -> None:
        """Declare a notifier with its checked *constraints*.

        See :meth:`Machine.add_init_done`, which builds the value.
        """
        after, before = self._apply_dropped_edges(
            name, constraints.after, constraints.before
        )
        if (after, before) != (constraints.after, constraints.before):
            constraints = Constraints.of_fields(
                after,
                before,
                constraints.after_optional,
                constraints.before_optional,
                constraints.reads,
                constraints.writes,
            )
        self._declared[name] = (after, before)
        where = declaration_site()
        resources = frozenset(constraints.reads) | frozenset(constraints.writes)
        wrapped = self._traced(name, callback, resources)
        # Both modes declare the same edges; in qemu-lifo mode the registry
        # is never notified, it only answers the views.
        self.registry.add(name, wrapped, constraints=constraints, location=where)
        if self._list is None:
            return
        self._list.add(ListNotifier(wrapped, name))
        if self.machine.phase.reached(Phase.MACHINE_READY):
            # qemu_add_machine_init_done_notifier runs a late notifier at once.
            wrapped(self.machine)

    def _apply_dropped_edges(
        self, name: str, after: tuple[str, ...], before: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Remove the edges the user asked to drop from *name*'s declaration."""
        for target in (*after, *before):
            if (name, target) in self._drop:
                self._drop.discard((name, target))
                self.machine.trace.add(
                    Kind.NOTE,
                    f"dropped declared edge {name} -> {target} (as asked)",
                    ok=False,
                )
                after = tuple(t for t in after if t != target)
                before = tuple(t for t in before if t != target)
        return after, before

    def unused_drop_edges(self) -> list[tuple[str, str]]:
        """Return the drop requests that matched no declaration."""
        return sorted(self._drop)

    def check_access(self, resource: str, what: str) -> None:
        """Refuse *resource* unless the running notifier declared it.

        ``reads=``/``writes=`` may name it exactly or a family ending in
        ``.*``; outside any notifier everything is allowed.

        Raises:
            UndeclaredAccessError: The running notifier did not declare it.
        """
        if self.running is None:
            return
        declared = self.running_resources
        covered = resource in declared or any(
            d.endswith(".*") and resource.startswith(d[:-1]) for d in declared
        )
        if not covered:
            raise UndeclaredAccessError(self.running, resource, what)

    def _traced(
        self, name: str, callback: Callback, resources: frozenset[str]
    ) -> Callback:
        machine = self.machine

        def run(arg: Machine) -> None:
            machine.trace.add(
                Kind.NOTIFIER, f"notifier {name}{self._spec(name)}", notifier=name
            )
            self._started.append(name)
            self._flag_broken_declarations(name)
            machine.trace.enter()
            saved = self.running, self.running_resources
            self.running, self.running_resources = name, resources
            try:
                callback(arg)
            except BaseException as exc:
                if not isinstance(exc, OSError):  # a failed KVM call is already shown
                    machine.trace.add(Kind.NOTE, f"{name} raised {exc!r}", ok=False)
                if self._list is not None and isinstance(
                    exc, MachineError | NotifierError | OSError
                ):
                    # QEMU's list does not say which notifier raised; say it.
                    raise NotifierRaisedError(name, exc) from exc
                raise
            finally:
                self.running, self.running_resources = saved
                machine.trace.leave()
            self._ran.append(name)

        run.__name__ = name
        return run

    def _spec(self, name: str) -> str:
        after, before = self._declared.get(name, ((), ()))
        parts = []
        if after:
            parts.append("after=" + ", ".join(after))
        if before:
            parts.append("before=" + ", ".join(before))
        return f"  [{'; '.join(parts)}]" if parts else ""

    def _flag_broken_declarations(self, name: str) -> None:
        if self._list is None:
            return
        after, before = self._declared.get(name, ((), ()))
        for target in after:
            if target not in self._started:
                self.machine.trace.add(
                    Kind.NOTE,
                    f"{name} declared after={target}, but QEMU's list runs it "
                    f"first ({target} has not run)",
                    ok=False,
                    violated=[target, name],
                )
        for target in before:
            if target in self._started:
                self.machine.trace.add(
                    Kind.NOTE,
                    f"{name} declared before={target}, but QEMU's list ran "
                    f"{target} first",
                    ok=False,
                    violated=[name, target],
                )

    def notify(self) -> None:
        """Run the notifiers in this mode's order."""
        if self._list is None:
            self.registry.notify(self.machine)
        else:
            self._list.notify(self.machine)

    def not_run(self) -> list[str]:
        """Return the notifiers that have not run, in this mode's order."""
        return [n for n in self.order() if n not in self._ran]

    def order(self) -> list[str]:
        """Return the names in the order they run (ran, then will run) here."""
        if self._list is None:
            return list(self.registry.order())
        # A late notifier runs at once, though the list puts it at its head.
        started = list(self._started)
        return started + [n for n in self._list.names() if n not in started]

    def imposed_order(self) -> list[str] | None:
        """Return the order QEMU's list imposes, or None when declarations rule."""
        return None if self._list is None else self.order()

    def explain(self, first: str, second: str) -> Explanation:
        """Return why *first* and *second* run in the order they do here.

        Raises:
            UnknownNotifierError: Either name is not declared.
            InvalidNotifierError: The same name twice.
        """
        return self.registry.explain(
            first, second, order=self.imposed_order(), imposed_by=QEMU_LIST
        )

    def hazards(self) -> list[Hazard]:
        """Return the reads/writes hazards of the order that runs here."""
        return self.registry.hazards(order=self.imposed_order())

    def violated_edges(self) -> list[Edge]:
        """Return the declared edges the order that runs breaks (none if ordered)."""
        imposed = self.imposed_order()
        return [] if imposed is None else self.registry.violated_edges(imposed)

    def to_dot(self) -> str:
        """Return the graph as DOT, numbered in the order that runs here."""
        return self.registry.to_dot(order=self.imposed_order())

    def statuses(self) -> dict[str, str]:
        """Return each notifier's fate so far: "ran", "failed" or "not-run".

        Empty until the event fired (nothing has had its chance yet).
        """
        if not self._started:
            return {}
        ran = set(self._ran)
        return {
            name: "ran"
            if name in ran
            else "failed"
            if name in self._started
            else "not-run"
            for name in self.order()
        }

    def to_svg(self) -> str:
        """Return the graph as SVG: numbered as it runs, coloured by status."""
        return self.registry.to_svg(order=self.imposed_order(), status=self.statuses())

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> dict[str, str]:
        # Jupyter: the graph of the order that runs (machine.display).
        return {"image/svg+xml": self.to_svg(), "text/plain": ", ".join(self.order())}

    def to_mermaid(self) -> str:
        """Return the graph as Mermaid, numbered in the order that runs here."""
        return self.registry.to_mermaid(order=self.imposed_order())
