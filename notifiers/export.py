"""Graph export: the computed order as Graphviz DOT or Mermaid text.

Nodes are labelled with their position in the run order ("1. name") and
listed in that order; each declared edge is labelled with the notifier whose
``add``/``register`` declared it (its file:line is the DOT tooltip);
optional edges are dashed. Optional edges dropped because their target is
absent are not drawn: each is listed as a comment instead, so nothing is
silently lost. The text depends only on the registry, never on hashing.

For an imposed order (QEMU's list, see :mod:`notifiers.imposed`) the numbers
are the order that runs, and every declared edge that order breaks is drawn
red and bold and labelled "violated", so a picture never shows a promise the
run does not keep.
"""

from __future__ import annotations

from virtmodel.notifiers.edges import DroppedEdge
from virtmodel.notifiers.imposed import violated_edges
from virtmodel.notifiers.plan import Plan

#: The label suffix of an edge the order that runs breaks.
VIOLATED = "violated"


def _flat(edge: DroppedEdge) -> str:
    return str(edge).replace("\n", " ")


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _mermaid_quote(text: str) -> str:
    escaped = text.replace('"', "#quot;").replace("\n", " ")
    return f'"{escaped}"'


def to_dot(plan: Plan) -> str:
    """Return *plan* as a Graphviz ``digraph``."""
    lines = [
        f"digraph {_dot_quote(plan.event)} {{",
        f"  // notifiers for {plan.event!r} in run order;"
        " edge labels name the declarer",
        "  node [shape=box];",
    ]
    for position, name in enumerate(plan.order, 1):
        lines.append(
            f"  {_dot_quote(name)} [label={_dot_quote(f'{position}. {name}')}];"
        )
    broken = set(violated_edges(plan))
    for edge in plan.edges():
        label = edge.declared_by
        if edge in broken:
            label += f" ({VIOLATED})"
        attrs = [
            f"label={_dot_quote(label)}",
            f"tooltip={_dot_quote(f'{edge.keyword} at {edge.location}')}",
        ]
        if edge in broken:
            attrs += ["color=red", "fontcolor=red", "style=bold"]
        elif edge.optional:
            attrs.append("style=dashed")
        lines.append(
            f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}"
            f" [{', '.join(attrs)}];"
        )
    lines.extend(f"  // dropped optional edge: {_flat(edge)}" for edge in plan.dropped)
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(plan: Plan) -> str:
    """Return *plan* as a Mermaid ``flowchart``."""
    ids = {name: f"n{position}" for position, name in enumerate(plan.order, 1)}
    lines = [
        "flowchart TD",
        f"  %% notifiers for {plan.event!r} in run order;"
        " edge labels name the declarer",
    ]
    for position, name in enumerate(plan.order, 1):
        lines.append(f"  {ids[name]}[{_mermaid_quote(f'{position}. {name}')}]")
    broken = set(violated_edges(plan))
    styles = []
    for index, edge in enumerate(plan.edges()):
        if edge in broken:
            arrow = "==>"
            label = _mermaid_quote(f"{edge.declared_by} ({VIOLATED})")
            styles.append(f"  linkStyle {index} stroke:red,color:red")
        else:
            arrow = "-.->" if edge.optional else "-->"
            label = _mermaid_quote(edge.declared_by)
        lines.append(f"  {ids[edge.source]} {arrow}|{label}| {ids[edge.target]}")
    lines.extend(styles)
    lines.extend(f"  %% dropped optional edge: {_flat(edge)}" for edge in plan.dropped)
    return "\n".join(lines) + "\n"
