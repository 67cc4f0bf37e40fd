"""A registry's graph as SVG, drawn in pure Python (no Graphviz needed).

Teachers open a notebook or a classroom page on machines without Graphviz,
so :func:`plan_svg` lays the graph out itself: layers are networkx's
topological generations of the declared edges (a notifier sits one layer
below everything it runs after), each layer is sorted by the mean position of
its predecessors to limit crossings, and boxes are numbered in the order that
runs. A declared edge that order breaks (QEMU's list) is drawn red and
labelled "violated"; optional edges are dashed. ``status`` colours the boxes
(ran, failed, skipped, not-run), for traces. :func:`graph_svg` uses Graphviz
when it is installed and asked for, and falls back to this drawing.

The output depends only on the plan: the same registry gives the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from html import escape
from typing import Final

import networkx as nx

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.export import to_dot
from virtmodel.notifiers.imposed import violated_edges
from virtmodel.notifiers.plan import Plan

#: Pixels per character of the 12px monospace label font (an upper bound).
CHAR: Final = 7.5
#: The same for the 10px edge labels.
LABEL_CHAR: Final = 6.3
BOX_H: Final = 28
GAP_X: Final = 24
GAP_Y: Final = 56
MARGIN: Final = 16
#: Box fill per trace status; any other status keeps the plain fill.
FILLS: Final = {
    "ran": "#e3f4e1",
    "failed": "#fbd5d5",
    "skipped": "#fdf0c8",
    "not-run": "#eeeeee",
}
PLAIN: Final = "#f5f7fb"


def _layers(plan: Plan) -> list[list[str]]:
    position = plan.position
    layers = [
        sorted(layer, key=position) for layer in nx.topological_generations(plan.graph)
    ]
    # One pass down: order each layer by where its predecessors sit.
    slot: dict[str, float] = {}
    for layer in layers:

        def key(name: str) -> tuple[float, int]:
            preds = [slot[p] for p in plan.graph.predecessors(name)]
            return (sum(preds) / len(preds) if preds else -1.0, position(name))

        layer.sort(key=key)
        slot.update({name: float(i) for i, name in enumerate(layer)})
    return layers


def _label(plan: Plan, name: str) -> str:
    return f"{plan.position(name) + 1}. {name}"


def plan_svg(plan: Plan, status: Mapping[str, str] | None = None) -> str:
    """Return *plan*'s graph as standalone SVG text, laid out in pure Python."""
    layers = _layers(plan)
    width = {n: len(_label(plan, n)) * CHAR + 16 for n in plan.order}
    box: dict[str, tuple[float, float]] = {}
    for depth, layer in enumerate(layers):
        y = float(MARGIN + depth * (BOX_H + GAP_Y))
        right = float(MARGIN - GAP_X)
        for name in layer:
            # Sit under the middle of what it runs after, without overlapping.
            preds = [box[p][0] + width[p] / 2 for p in plan.graph.predecessors(name)]
            wanted = sum(preds) / len(preds) - width[name] / 2 if preds else 0.0
            x = max(right + GAP_X, wanted)
            box[name] = (x, y)
            right = x + width[name]
    broken = set(violated_edges(plan))
    # Room for the boxes and for each edge label, written right of its middle.
    right_ends = [box[n][0] + width[n] for n in plan.order] + [
        (
            box[e.source][0]
            + width[e.source] / 2
            + box[e.target][0]
            + width[e.target] / 2
        )
        / 2
        + 4
        + len(_edge_label(e, e in broken)) * LABEL_CHAR
        for e in plan.edges()
    ]
    canvas_w = max(right_ends, default=0.0) + MARGIN
    canvas_h = len(layers) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="virtmodel-graph" '
        f'width="{canvas_w:.0f}" height="{max(canvas_h, 2 * MARGIN):.0f}" '
        f'viewBox="0 0 {canvas_w:.0f} {max(canvas_h, 2 * MARGIN):.0f}" '
        'font-family="monospace" font-size="12">',
        f"<title>{escape(plan.event)}: notifiers numbered in the order that runs"
        "</title>",
        "<defs>"
        + "".join(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            for kind, color in (("ok", "#444"), ("violated", "#c00"))
        )
        + "</defs>",
    ]
    parts += [_edge(edge, box, width, edge in broken) for edge in plan.edges()]
    for name in plan.order:
        x, y = box[name]
        record = plan.notifiers[name]
        state = (status or {}).get(name)
        fill = FILLS.get(state or "", PLAIN)
        stroke = "#c00" if state == "failed" else "#345"
        tip = f"{name}: declared at {record.location}"
        if state:
            tip += f"; {state}"
        data = f' data-status="{escape(state)}"' if state else ""
        parts.append(
            f'<g class="node" data-name="{escape(name)}"{data}>'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width[name]:.1f}" '
            f'height="{BOX_H}" rx="4" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + width[name] / 2:.1f}" y="{y + BOX_H / 2 + 4:.1f}" '
            f'text-anchor="middle">{escape(_label(plan, name))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _edge(
    edge: Edge,
    box: Mapping[str, tuple[float, float]],
    width: Mapping[str, float],
    broken: bool,
) -> str:
    (sx, sy), (tx, ty) = box[edge.source], box[edge.target]
    x1, y1 = sx + width[edge.source] / 2, sy + BOX_H
    x2, y2 = tx + width[edge.target] / 2, ty
    label = _edge_label(edge, broken)
    color = "#c00" if broken else "#444"
    dash = ' stroke-dasharray="5,4"' if edge.optional and not broken else ""
    kind = "violated" if broken else "ok"
    return (
        f'<g class="edge{" violated" if broken else ""}" '
        f'data-source="{escape(edge.source)}" data-target="{escape(edge.target)}">'
        f"<title>{escape(edge.describe())}</title>"
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{color}" stroke-width="{2.5 if broken else 1.2}"{dash} '
        f'marker-end="url(#arrow-{kind})"/>'
        f'<text x="{(x1 + x2) / 2 + 4:.1f}" y="{(y1 + y2) / 2:.1f}" '
        f'fill="{color}" font-size="10">{escape(label)}</text></g>'
    )


def _edge_label(edge: Edge, broken: bool) -> str:
    return edge.declared_by + (" (violated)" if broken else "")


def graph_svg(plan: Plan, *, graphviz: bool = False) -> str:
    """Return *plan* as SVG: Graphviz's drawing if asked for and installed.

    Without Graphviz (or if ``dot`` fails) the pure-Python drawing of
    :func:`plan_svg` is returned, so a picture is always there.
    """
    dot = shutil.which("dot") if graphviz else None
    if dot is not None:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(plan).encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            text = done.stdout.decode()
            return text[text.index("<svg") :]
    return plan_svg(plan)
