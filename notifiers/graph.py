"""The constraint graph of a set of declarations, and who declared each edge.

An edge ``u -> v`` (u runs before v) is declared by ``v`` (``after=u``) or by
``u`` (``before=v``), hard or optional. :func:`build_graph` turns the
registrations into a networkx ``DiGraph`` in bulk, checking on the way that
every hard target is registered (before any edge is built, so networkx never
invents phantom nodes) and leaving out optional edges to absent targets,
which it reports as dropped. :func:`declared_edge` finds the
declaration behind an edge, for messages; :func:`unknown` builds the error
for a name nobody registered, with the closest registered name.

networkx is imported when a graph is built, not with this module: the
command line imports the registry for every command and orders it for few.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import repeat
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NoReturn

from virtmodel.notifiers.edges import DroppedEdge, Edge
from virtmodel.notifiers.errors import UnknownNotifierError
from virtmodel.notifiers.notifier import (
    AFTER,
    AFTER_OPTIONAL,
    BEFORE,
    BEFORE_OPTIONAL,
    LOCATION,
    NAME,
    Notifier,
    Row,
)

if TYPE_CHECKING:
    import networkx as nx


def closest(name: str, names: Collection[str]) -> str | None:
    """Return the registered name closest to *name*, or None if none is close."""
    matches = difflib.get_close_matches(name, names, n=1)
    return matches[0] if matches else None


def unknown(
    event: str,
    name: str,
    notifiers: Collection[str],
    referrer: Row | None = None,
    keyword: str | None = None,
) -> UnknownNotifierError:
    """Return the error for *name*, which is not among *notifiers*.

    *referrer* is the row (or record) whose *keyword* names it, if any.
    """
    return UnknownNotifierError(
        event,
        name,
        referrer=None if referrer is None else referrer[NAME],
        keyword=keyword,
        location=None if referrer is None else referrer[LOCATION],
        hint=closest(name, notifiers),
    )


def declared_edge(first: Notifier, second: Notifier) -> Edge:
    """Return the declaration that orders *first* before *second* (hard first).

    Raises:
        KeyError: Neither declared such an edge (a bug in the caller).
    """
    u, v = first.name, second.name
    if u in second.after:
        return Edge(u, v, v, "after", second.location)
    if v in first.before:
        return Edge(u, v, u, "before", first.location)
    if u in second.after_optional:
        return Edge(u, v, v, "after_optional", second.location)
    if v in first.before_optional:
        return Edge(u, v, u, "before_optional", first.location)
    raise KeyError((u, v))  # pragma: no cover - callers pass graph edges only


def edge_between(notifiers: Mapping[str, Notifier], u: str, v: str) -> Edge:
    """Return the declaration behind edge ``u -> v`` among *notifiers*.

    Raises:
        KeyError: No notifier declared such an edge (a bug in the caller).
    """
    return declared_edge(notifiers[u], notifiers[v])


def iter_edges(notifiers: Mapping[str, Notifier]) -> Iterator[tuple[str, str]]:
    """Yield the effective edges of checked *notifiers*, grouped by keyword.

    Groups come in the order after, before, after_optional, before_optional,
    each in registration order. Streaming them (rather than building a list)
    keeps 300,000 short-lived tuples away from the cyclic GC on order()'s
    hot path.
    """
    records = notifiers.values()
    yield from ((o, r.name) for r in records for o in r.after)
    yield from ((r.name, o) for r in records for o in r.before)
    yield from (
        (o, r.name) for r in records for o in r.after_optional if o in notifiers
    )
    yield from (
        (r.name, o) for r in records for o in r.before_optional if o in notifiers
    )


def _with_optional(rows: Iterable[Row]) -> list[Row]:
    """Return the rows that declare an optional edge, in their order."""
    return [r for r in rows if r[AFTER_OPTIONAL] or r[BEFORE_OPTIONAL]]


def _dropped(rows: Mapping[str, Row], optional: list[Row]) -> tuple[DroppedEdge, ...]:
    """Return the dropped edges of *optional*, the rows with optional edges."""
    dropped = [
        DroppedEdge(r[NAME], o, "after_optional", r[LOCATION])
        for r in optional
        for o in r[AFTER_OPTIONAL]
        if o not in rows
    ]
    dropped += [
        DroppedEdge(r[NAME], o, "before_optional", r[LOCATION])
        for r in optional
        for o in r[BEFORE_OPTIONAL]
        if o not in rows
    ]
    return tuple(dropped)


def _raise_first_unknown(event: str, rows: Mapping[str, Row]) -> NoReturn:
    """Raise for the first hard target, in registration order, not registered."""
    for row in rows.values():  # pragma: no branch - one is unknown
        hard = {"after": row[AFTER], "before": row[BEFORE]}
        for keyword, names in hard.items():
            for other in names:
                if other not in rows:
                    raise unknown(event, other, rows, row, keyword)
    raise AssertionError  # pragma: no cover - called only when one is unknown


def build_graph(
    event: str, rows: Mapping[str, Row]
) -> tuple[nx.DiGraph[str], tuple[DroppedEdge, ...]]:
    """Return the constraint graph (nodes in registration order) and dropped edges.

    *rows* are the registrations by name (rows or records) in registration
    order.

    Raises:
        UnknownNotifierError: A hard ``after``/``before`` names an absent notifier.
    """
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    try:
        with gc_paused():
            optional = _fill(graph, rows)
    except KeyError:
        # A hard target is not registered: name the first one, with a hint.
        _raise_first_unknown(event, rows)
    return graph, _dropped(rows, optional)


#: The attributes of every node and edge of an order's graph: none, read-only.
_NO_ATTRIBUTES: Final[Mapping[str, Any]] = MappingProxyType({})


def _fill(graph: nx.DiGraph[str], rows: Mapping[str, Row]) -> list[Row]:
    """Fill empty *graph* with the nodes and effective edges of *rows*.

    The same graph ``add_nodes_from`` + ``add_edges_from(iter_edges(...))``
    builds (tests compare the two), written straight into networkx's
    documented dict-of-dicts layout. Nothing ever sets an attribute on this
    internal graph, so every node and edge shares one read-only empty
    mapping (a write would raise) instead of 400,000 empty dicts. Skipping
    the per-edge generality of ``add_edges_from`` (tuple length checks,
    attribute merging) is what lets ``order()`` beat building the graph by
    hand. Returns the rows that declare optional edges (few), which the
    last two groups of edges and the dropped-edge report visit alone.

    Raises:
        KeyError: A hard ``after``/``before`` names an absent notifier (the
            caller names it properly: this is the bulk check, for free).
    """
    # DiGraph keeps nodes, successors and predecessors in the dicts its
    # "Subclasses" notes document (_node, _succ, _pred); a test checks the
    # result equals the add_edges_from build, edge order included.
    layout = vars(graph)
    node, succ, pred = layout["_node"], layout["_succ"], layout["_pred"]
    none = _NO_ATTRIBUTES
    node.update(dict.fromkeys(rows, none))
    succ.update({name: {} for name in rows})
    # The four groups of iter_edges(), in its order, without a tuple per edge.
    # A notifier's predecessors start as its own after= list, in its order
    # (only v declares after=u, once each): dict.fromkeys builds them, and
    # the loop over them runs in C.
    afters = map(itemgetter(AFTER), rows.values())
    pred.update(zip(rows, map(dict.fromkeys, afters, repeat(none)), strict=True))
    for v, row in rows.items():
        for u in row[AFTER]:
            succ[u][v] = none
    # The later groups may repeat an edge: storing the same shared mapping
    # again under an existing key keeps that key's place, as add_edges_from
    # does, so no membership test is needed.
    for u, row in rows.items():
        before = row[BEFORE]
        if before:
            out = succ[u]
            for v in before:
                out[v] = pred[v][u] = none
    optional = _with_optional(rows.values())
    for row in optional:
        v = row[NAME]
        into = pred[v]
        for u in row[AFTER_OPTIONAL]:
            if u in rows:
                succ[u][v] = into[u] = none
    for row in optional:
        u = row[NAME]
        out = succ[u]
        for v in row[BEFORE_OPTIONAL]:
            if v in rows:
                out[v] = pred[v][u] = none
    return optional


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk build, if it is running.

    Building 100,000 nodes and 300,000 edges allocates only acyclic dicts;
    letting the collector scan the growing heap meanwhile costs a third of
    the time and frees nothing. Left alone if the caller disabled it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def attributed_graph(event: str, notifiers: Mapping[str, Notifier]) -> nx.DiGraph[str]:
    """Return the constraint graph with each edge's provenance as attributes.

    Nodes are in registration order; edges carry ``declared_by``,
    ``location``, ``keyword`` and ``optional``.

    Raises:
        UnknownNotifierError: A hard ``after``/``before`` names an absent notifier.
    """
    import networkx as nx

    plain, _ = build_graph(event, notifiers)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(notifiers)
    for u, v in plain.edges:
        edge = edge_between(notifiers, u, v)
        graph.add_edge(
            u,
            v,
            declared_by=edge.declared_by,
            location=edge.location,
            keyword=edge.keyword,
            optional=edge.optional,
        )
    return graph
