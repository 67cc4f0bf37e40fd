"""Rich display in Jupyter: HTML and SVG for the notifiers package's objects.

Jupyter calls ``_repr_html_``/``_repr_mimebundle_`` on the last value of a
cell; the classes delegate here (imported lazily, so nothing of this is paid
for outside a notebook). A registry shows its graph numbered in run order
(see :mod:`notifiers.svg`), a :class:`Trace` a table with failures
highlighted, an :class:`Explanation` its chain, an :class:`Exploration` its
outcomes and culprits with their fixes. Every HTML fragment is self-contained
(inline styles, no scripts) and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any, Final

from virtmodel.notifiers.errors import NotifierError
from virtmodel.notifiers.svg import plan_svg

if TYPE_CHECKING:
    from virtmodel.notifiers.explain import Explanation
    from virtmodel.notifiers.explore.exploration import Exploration
    from virtmodel.notifiers.hazards import Hazard
    from virtmodel.notifiers.plan import Plan
    from virtmodel.notifiers.trace import Trace

#: Row background per status (failures stand out; the rest stays quiet).
ROW: Final = {"failed": "#fbd5d5", "skipped": "#fdf0c8", "not-run": "#eeeeee"}
TABLE: Final = 'style="border-collapse:collapse;font-family:monospace;font-size:12px"'
CELL: Final = 'style="border:1px solid #ccc;padding:2px 6px;text-align:left"'


def table(
    header: Sequence[str], rows: Iterable[tuple[Sequence[str], str | None]]
) -> str:
    """Return an HTML table; each row is (cells, background colour or None)."""
    head = "".join(f"<th {CELL}>{escape(h)}</th>" for h in header)
    body = []
    for cells, background in rows:
        style = f' style="background:{background}"' if background else ""
        body.append(
            f"<tr{style}>"
            + "".join(f"<td {CELL}>{escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    return f"<table {TABLE}><tr>{head}</tr>{''.join(body)}</table>"


def registry_bundle(plan: Plan | NotifierError, header: str) -> dict[str, Any]:
    """Return the MIME bundle of a registry: its graph, or why it has none."""
    if isinstance(plan, NotifierError):
        # A cycle or an unknown name: say so instead of a broken picture.
        html = f"<p><b>{escape(header)}</b>: cannot order: {escape(str(plan))}</p>"
        return {"text/html": html, "text/plain": f"{header}: {plan}"}
    return {
        "image/svg+xml": plan_svg(plan),
        "text/plain": f"{header}: {', '.join(plan.order)}",
    }


def trace_html(trace: Trace) -> str:
    """Return *trace* as an HTML table, failed steps highlighted."""
    rows = []
    for position, step in enumerate(trace.steps, 1):
        status = step.status.value + (" (late)" if step.late else "")
        took = f"{step.duration * 1e3:.3f} ms" if step.duration else "-"
        cells = (str(position), step.name, status, took, step.constraints)
        rows.append(((*cells, step.error or ""), ROW.get(step.status.value)))
    header = ("#", "notifier", "status", "time", "constraints", "error")
    title = f"<p>trace of <b>{escape(trace.event)}</b>: {len(trace.steps)} steps</p>"
    dropped = "".join(f"<li>{escape(str(edge))}</li>" for edge in trace.dropped)
    extra = f"<p>dropped optional edges:</p><ul>{dropped}</ul>" if dropped else ""
    return title + table(header, rows) + extra


def explanation_html(explanation: Explanation) -> str:
    """Return *explanation* as HTML: the summary, then its chain of edges."""
    color = "#c00" if explanation.violated else "#222"
    items = "".join(
        f"<li><code>{escape(str(edge))}</code></li>" for edge in explanation.chain
    )
    chain = f"<ul>{items}</ul>" if items else ""
    return f'<p style="color:{color}">{escape(explanation.summary)}</p>{chain}'


def hazards_html(hazards: Sequence[Hazard]) -> str:
    """Return *hazards* as an HTML table (or a line saying there are none)."""
    if not hazards:
        return "<p>hazards: none: every reader runs after every writer</p>"
    rows = [
        ((h.kind, h.resource, h.writer, h.other, h.fix), ROW["failed"]) for h in hazards
    ]
    return table(("kind", "resource", "writer", "reader/writer", "fix"), rows)


def exploration_html(exploration: Exploration) -> str:
    """Return *exploration* as HTML: verdict, outcomes, culprits and fixes."""
    first, *rest = str(exploration).splitlines()
    verdict = rest[0] if rest else ""
    ok = exploration.order_independent
    parts = [
        f"<p><b>{escape(first)}</b></p>",
        f'<p style="color:{"#060" if ok else "#c00"}">{escape(verdict)}</p>',
    ]
    if not ok:
        rows = []
        for index, (outcome, orders) in enumerate(exploration.outcomes.items(), 1):
            example = ", ".join(orders[0])
            rows.append(
                (
                    (str(index), str(len(orders)), str(outcome), example),
                    None if outcome.ok else ROW["failed"],
                )
            )
        parts.append(table(("outcome", "orders", "what happened", "e.g."), rows))
        for index, culprit in enumerate(exploration.culprits, 1):
            parts.append(
                f"<p>culprit {index}: <b>{escape(culprit.first)}</b> and "
                f"<b>{escape(culprit.second)}</b>; fix: "
                f"<code>{escape(culprit.fix)}</code></p>"
            )
    return "".join(parts)
