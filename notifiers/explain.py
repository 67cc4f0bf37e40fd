"""Why one notifier runs before another: :func:`explain` and :class:`Explanation`.

If declared edges order the two, the answer is the shortest chain of them,
each with who declared it and where. Otherwise nothing but the tie-break
(registration order among notifiers that are ready) decides, and the answer
says so, including why a notifier registered earlier may still run later.

When something else decides the order (QEMU's newest-first list; see
:mod:`notifiers.imposed`), the answer describes the order that runs: which
of the two runs first, and the declared chain that run breaks, if any.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, final

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import InvalidNotifierError
from virtmodel.notifiers.graph import unknown
from virtmodel.notifiers.plan import Plan


@final
@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer to "why does ``earlier`` run before ``later``?"."""

    #: The event (registry) name.
    event: str
    #: The one of the two that runs first.
    earlier: str
    #: The one of the two that runs second.
    later: str
    #: The shortest chain of declared edges from earlier to later; empty if
    #: nothing orders them and the tie-break decides.
    chain: tuple[Edge, ...]
    #: The explanation as one paragraph (``str()`` adds the chain lines).
    summary: str
    #: Whether the order that runs breaks ``chain``: the declarations put
    #: ``later`` first, but something else (QEMU's list) decided the order.
    violated: bool = False

    @property
    def ordered(self) -> bool:
        """Return whether declared edges (not the tie-break) fix the order."""
        return bool(self.chain) and not self.violated

    def __str__(self) -> str:
        return "\n".join([self.summary, *(f"  {edge}" for edge in self.chain)])

    def _repr_html_(self) -> str:
        # Jupyter: the summary and the chain (notifiers.display).
        from virtmodel.notifiers.display import explanation_html

        return explanation_html(self)

    def as_dict(self) -> dict[str, Any]:
        """Return the explanation as a JSON-serialisable dict."""
        return {
            "event": self.event,
            "earlier": self.earlier,
            "later": self.later,
            "chain": [edge.as_dict() for edge in self.chain],
            "summary": self.summary,
            "violated": self.violated,
        }


def explain(
    plan: Plan, first: str, second: str, imposed_by: str | None = None
) -> Explanation:
    """Explain the relative order of *first* and *second* in *plan*.

    *imposed_by* names what decided ``plan.order`` when it is not the
    registry's own order (e.g. "QEMU's newest-first list").

    Raises:
        UnknownNotifierError: Either name is not registered.
        InvalidNotifierError: *first* and *second* are the same notifier.
    """
    import networkx as nx  # loaded already: the plan was built with it

    for name in (first, second):
        if name not in plan.notifiers:
            raise unknown(plan.event, name, plan.notifiers)
    if first == second:
        msg = f"explain needs two different notifiers, got {first!r} twice"
        raise InvalidNotifierError(first, msg)
    earlier, later = sorted((first, second), key=plan.position)
    where = f"(positions {plan.position(earlier) + 1} and {plan.position(later) + 1})"
    if nx.has_path(plan.graph, earlier, later):
        path = nx.shortest_path(plan.graph, earlier, later)
        chain = tuple(plan.edge(u, v) for u, v in itertools.pairwise(path))
        count = "1 declared edge" if len(chain) == 1 else f"{len(chain)} declared edges"
        if imposed_by is None:
            summary = f"{earlier!r} runs before {later!r} {where} because of {count}:"
        else:
            summary = (
                f"{earlier!r} runs before {later!r} {where}: {imposed_by} decides, "
                f"and here it happens to agree with {count}:"
            )
        return Explanation(plan.event, earlier, later, chain, summary)
    if nx.has_path(plan.graph, later, earlier):
        path = nx.shortest_path(plan.graph, later, earlier)
        chain = tuple(plan.edge(u, v) for u, v in itertools.pairwise(path))
        count = "1 declared edge" if len(chain) == 1 else f"{len(chain)} declared edges"
        put = "puts" if len(chain) == 1 else "put"
        summary = (
            f"{earlier!r} runs before {later!r} {where}: "
            f"{imposed_by or 'the order that runs'} ignores the declarations, "
            f"breaking {count} that {put} {later!r} first:"
        )
        return Explanation(plan.event, earlier, later, chain, summary, violated=True)
    if imposed_by is not None:
        why = f"{imposed_by} runs {earlier!r} first"
    else:
        why = _tie_break(plan, earlier, later)
    summary = f"nothing orders {earlier!r} and {later!r} {where}; {why}"
    return Explanation(plan.event, earlier, later, (), summary)


def _tie_break(plan: Plan, earlier: str, later: str) -> str:
    rank_e = plan.notifiers[earlier].rank
    rank_l = plan.notifiers[later].rank
    rule = "the tie-break runs whichever ready notifier was registered first"
    if rank_e < rank_l:
        return f"{rule}, and {earlier!r} was registered before {later!r}"
    # `later` was registered first, so it was not ready when `earlier` ran:
    # its last predecessor in the order comes after `earlier`.
    gate = max(plan.graph.predecessors(later), key=plan.position)
    return (
        f"{rule}; {later!r} was registered first but waits for {gate!r} "
        f"(position {plan.position(gate) + 1}), which the order puts after {earlier!r}"
    )
