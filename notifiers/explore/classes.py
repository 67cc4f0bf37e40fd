"""Partial-order reduction: one run per class of equivalent orders.

Two notifiers are *dependent* when they conflict on a declared resource (one
writes what the other reads or writes, :mod:`notifiers.conflicts`), when one
of them declares no resource at all (it may touch anything), or when one of
them failed in a run (a failure stops the phase, so what ran before it
matters). Two valid orders are *equivalent* when one turns into the other by
swapping adjacent independent notifiers: they are one Mazurkiewicz trace,
and, if every notifier touches only what it declares, they give the same
outcome. So it is enough to run one order per class.

This is the guarantee of optimal dynamic partial-order reduction (Abdulla et
al., POPL 2014: exactly one execution per trace) reached without its
run-time bookkeeping. DPOR (Flanagan and Godefroid, POPL 2005) discovers
dependencies while it runs, because a program's accesses are only known
then; here they are declared before anything runs, so the classes can be
enumerated directly. A class is fixed by the direction of every dependent
pair the declared edges leave unordered: :class:`ClassTree` branches on the
first such pair still unordered, adding ``a -> b`` on one side and
``b -> a`` on the other and closing transitively. Each leaf is one class and
each class one leaf; no branch is ever empty, so, unlike a search pruned
with sleep sets, none ends blocked without a run. A leaf's representative is
the registration-order tie-broken order of the declared edges plus its
directions; the first leaf taken gives ``notify()``'s own order.

Failures refine on the way: when a class's run fails at *f*, *f* becomes
dependent on every notifier, and the class splits by what ran before *f*
(its first part is the run already made).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, final

from virtmodel.notifiers.explore.orders import Closure, Order, Poset

#: Pairs and names looked at while counting classes before giving up
#: (a fraction of a second).
COUNT_BUDGET: Final = 300_000


@final
@dataclass(slots=True)
class Leaf:
    """One class: the directions chosen for its dependent pairs."""

    #: The extra edges (u, v: u first) chosen for dependent pairs.
    edges: tuple[tuple[str, str], ...]
    #: The declared order plus *edges*, closed.
    closure: Closure
    #: Notifiers already made dependent on everything in this class.
    refined: frozenset[str] = frozenset()


@final
@dataclass(slots=True)
class _Node:
    pairs: Sequence[tuple[str, str]]
    index: int
    edges: tuple[tuple[str, str], ...]
    closure: Closure
    refined: frozenset[str]


@final
class ClassTree:
    """The classes of equivalent valid orders, enumerated depth first.

    *pairs* are the dependent pairs, each oriented as *reference* (a valid
    order, notify()'s) runs it and sorted by where it runs them; branches
    follow the reference first.
    """

    def __init__(
        self, poset: Poset, reference: Order, pairs: Iterable[tuple[str, str]]
    ) -> None:
        self.poset = poset
        self.reference = reference
        oriented = orient(reference, pairs)
        root = _Node(oriented, 0, (), poset.closure(), frozenset())
        self._stack = [root]
        #: Classes found so far (leaves taken, refinements included).
        self.found = 0

    def next(self) -> Leaf | None:
        """Return the next class, or None when every class has been taken."""
        leaf = _next_leaf(self._stack)
        if leaf is not None:
            self.found += 1
        return leaf

    def refine(self, leaf: Leaf, run: Order, failed: Iterable[str]) -> int:
        """Split *leaf*'s class by where the *failed* notifiers ran in it.

        Each failed notifier becomes dependent on every other one; the new
        pairs follow *run*, the order that failed, so the first part of the
        split is that order again. Return how many parts there are (1: no
        split).
        """
        new = [name for name in failed if name not in leaf.refined]
        if not new:
            return 1
        refined = leaf.refined | frozenset(new)
        names = self.poset.graph
        pairs = orient(run, [(f, other) for f in new for other in names if other != f])
        node = _Node(pairs, 0, leaf.edges, leaf.closure, refined)
        parts = 0
        counting = [_Node(pairs, 0, leaf.edges, leaf.closure.copy(), refined)]
        while _next_leaf(counting) is not None:
            parts += 1
        self.found -= 1  # the leaf is replaced by its parts
        self._stack.append(node)
        return parts

    def representative(self, leaf: Leaf) -> Order:
        """Return the tie-broken order of *leaf*'s class."""
        return self.poset.lexicographic(leaf.edges)


class _TooCostly(Exception):
    """Counting classes went past its budget."""


def _next_leaf(stack: list[_Node], work: list[int] | None = None) -> Leaf | None:
    """Pop nodes off *stack*, pushing both branches, until a leaf comes up.

    *work*, if given, is [spent, budget]: spent grows by the pairs looked at
    and, for each branching, the names whose closure it updates.

    Raises:
        _TooCostly: *spent* went past *budget*.
    """
    while stack:
        node = stack.pop()
        pairs, closure = node.pairs, node.closure
        index = start = node.index
        while index < len(pairs) and closure.ordered(*pairs[index]):
            index += 1
        if work is not None:
            work[0] += index - start + 1
            if work[0] > work[1]:
                raise _TooCostly
        if index == len(pairs):
            return Leaf(node.edges, closure, node.refined)
        if work is not None:
            work[0] += 2 * len(node.closure)
        a, b = pairs[index]
        other = closure.copy()
        other.add(b, a)
        closure.add(a, b)
        stack.append(
            _Node(pairs, index + 1, (*node.edges, (b, a)), other, node.refined)
        )
        stack.append(
            _Node(pairs, index + 1, (*node.edges, (a, b)), closure, node.refined)
        )
    return None


def orient(
    order: Sequence[str], pairs: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Return each pair as *order* runs it, each once, sorted by positions."""
    position = {name: i for i, name in enumerate(order)}
    oriented = {(a, b) if position[a] < position[b] else (b, a) for a, b in pairs}
    return sorted(oriented, key=lambda pair: (position[pair[0]], position[pair[1]]))


def count(
    poset: Poset,
    reference: Order,
    pairs: Iterable[tuple[str, str]],
    limit: int,
    budget: int = COUNT_BUDGET,
) -> int:
    """Return how many classes *pairs* make, counting no further than limit + 1.

    Counting walks the tree without running anything, but each leaf costs a
    look at every dependent pair: past *budget* looks the answer is
    limit + 1 (too many to tell cheaply), and explore samples instead.
    """
    tree = ClassTree(poset, reference, pairs)
    work = [0, budget]
    try:
        while tree.found <= limit and _next_leaf(tree._stack, work) is not None:
            tree.found += 1
    except _TooCostly:
        return limit + 1
    return tree.found


def canonical(
    poset: Poset, order: Sequence[str], dependent: Iterable[tuple[str, str]]
) -> Order:
    """Return the representative of *order*'s class (same pairs, same ways)."""
    return poset.lexicographic(orient(order, dependent))
