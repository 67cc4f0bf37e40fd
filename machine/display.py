"""Rich display in Jupyter for the machine side: traces, machines, the matrix.

A machine shows its configuration, its init-done graph numbered in the order
that runs (boxes coloured ran/failed/not-run, QEMU's broken declarations in
red) and its trace as a table: phases, notifiers, the KVM calls each made
with their results, failures highlighted; the 32 alike virtio-mmio lines fold
into one row that opens on a click. The matrix is a table with one row per
kernel era x notifier mode x ITS placement. The classes delegate here
lazily; the same fragments feed the classroom page (``virtmodel serve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Final

from virtmodel.machine.trace import MachineTrace, TraceEntry, folded
from virtmodel.notifiers.display import CELL, ROW, TABLE, table

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.matrix import Cell
    from virtmodel.machine.machine import Machine

#: Row colours: a failed entry is red; a notifier line is tinted so each
#: notifier's KVM calls read as its block.
FAILED: Final = ROW["failed"]
NOTIFIER: Final = "#eef3fb"


def _row(entry: TraceEntry, text: str | None = None) -> str:
    shown = escape(text if text is not None else entry.text)
    indent = "&nbsp;" * (4 * entry.depth)
    background = (
        FAILED if not entry.ok else NOTIFIER if entry.kind.value == "notifier" else ""
    )
    style = f' style="background:{background}"' if background else ""
    status = "ok" if entry.ok else "FAILED"
    return (
        f'<tr class="{entry.kind.value}"{style}><td {CELL}>{entry.seq}</td>'
        f"<td {CELL}>{entry.kind.value}</td><td {CELL}>{indent}{shown}</td>"
        f"<td {CELL}>{status}</td></tr>"
    )


def trace_html(trace: MachineTrace) -> str:
    """Return the machine trace as an HTML table, failures highlighted."""
    rows = []
    for group in trace.groups():
        if len(group) == 1:
            rows.append(_row(group[0]))
            continue
        inner = "<br>".join(escape(e.text) for e in group)
        line = escape(folded(group).split(maxsplit=1)[1])
        rows.append(
            f'<tr class="folded"><td {CELL}>{group[0].seq}</td>'
            f"<td {CELL}>{group[0].kind.value}</td><td {CELL}><details>"
            f"<summary>{line}</summary>{inner}</details></td><td {CELL}>ok</td></tr>"
        )
    head = "".join(f"<th {CELL}>{h}</th>" for h in ("#", "kind", "what", "status"))
    return f"<table {TABLE}><tr>{head}</tr>{''.join(rows)}</table>"


def machine_html(machine: Machine) -> str:
    """Return a machine as HTML: what it is, its init-done graph, its trace."""
    config = machine.board.describe() if machine.board is not None else ""
    head = (
        f"<p><b>{escape(machine.name)}</b> {escape(config)}<br>"
        f"phase {escape(machine.phase.current.name)}; init-done notifiers: "
        f"{escape(machine.notifier_mode)}</p>"
    )
    failure = ""
    if machine.failure is not None:
        failed = machine.failure
        where = failed.notifier or failed.device or failed.stage
        failure = f'<p style="color:#c00">failed in {escape(where)}</p>'
    graph = ""
    if len(machine.init_done.registry):
        try:
            graph = machine.init_done.to_svg()
        except (LookupError, ValueError) as error:  # a cycle or an unknown name
            why = escape(str(error))
            graph = f'<p style="color:#c00">init-done cannot be ordered: {why}</p>'
    return head + failure + graph + trace_html(machine.trace)


def matrix_html(cells: Sequence[Cell]) -> str:
    """Return the ITS matrix as an HTML table; failing cells highlighted."""
    rows = [
        ((c.era, c.mode, c.placement, c.verdict()), None if c.boots else FAILED)
        for c in cells
    ]
    return table(("kernel", "notifiers", "its-init", "result"), rows)
