"""When something other than the declarations decides the order.

QEMU's ``NotifierList`` runs the newest registration first, whatever the
notifiers declared. A view that numbered, explained or checked the *declared*
order would then describe a run that never happens. :func:`imposed_plan`
returns a registry's plan with its order replaced by the order that actually
runs, so ``explain``, ``hazards`` and the graph exports describe the real run;
:func:`violated_edges` lists the declared edges that order breaks, which each
of those views reports instead of hiding.
"""

from __future__ import annotations

from collections.abc import Sequence

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import InvalidOrderError, quote_names
from virtmodel.notifiers.plan import Plan


def imposed_plan(plan: Plan, order: Sequence[str]) -> Plan:
    """Return *plan* with *order* as the order that runs; edges may be broken.

    Raises:
        InvalidOrderError: *order* is not a permutation of the plan's notifiers.
    """
    event = plan.event
    seen: set[str] = set()
    for name in order:
        if name not in plan.rows:
            msg = f"order for {event!r} names {name!r}, which is not registered"
            raise InvalidOrderError(event, msg)
        if name in seen:
            msg = f"order for {event!r} lists {name!r} twice"
            raise InvalidOrderError(event, msg)
        seen.add(name)
    missing = [name for name in plan.order if name not in seen]
    if missing:
        msg = f"order for {event!r} leaves out {quote_names(missing)}"
        raise InvalidOrderError(event, msg)
    return plan.with_order(list(order))


def violated_edges(plan: Plan) -> list[Edge]:
    """Return the declared edges whose target runs before their source.

    Empty for a registry's own plan; for an imposed order (QEMU's list) these
    are the declarations the run ignores, in declaration order.
    """
    return [
        edge
        for edge in plan.edges()
        if plan.position(edge.target) < plan.position(edge.source)
    ]
