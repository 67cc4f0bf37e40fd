"""The closed choices of the commands' own options: graph phase, format, info.

The other choices (kernel era, KVM backend, notifier mode, ITS placement)
belong to the machine, the simulator and the ITS, and are defined there; these
three belong to the commands that act on them, so they live here, beside the
parser, which takes its ``choices=`` from them while the commands narrow on
the same names. ``Literal`` types, as the others: the values are the plain
strings typed on the command line, and mypy checks every spelling in the
commands against this one list. This module imports nothing, so the parser
pays nothing for it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: Whose notifiers ``virtmodel graph --phase`` draws: the machine-init-done
#: event's (the default), the devices' realize order, or the reset notifiers.
GraphPhase = Literal["init-done", "realize", "reset"]
#: What ``virtmodel graph --format`` writes: DOT text (the default), Mermaid
#: text, or Graphviz's rendering of the DOT as SVG or PNG.
GraphFormat = Literal["dot", "mermaid", "svg", "png"]
#: What ``virtmodel info`` prints: QEMU's memory tree or its device tree of
#: buses.
InfoTopic = Literal["mtree", "qtree"]

#: The graph phases, the default first.
GRAPH_PHASES: Final[tuple[GraphPhase, ...]] = get_args(GraphPhase)
#: The graph formats, the default first.
GRAPH_FORMATS: Final[tuple[GraphFormat, ...]] = get_args(GraphFormat)
#: The formats Graphviz renders (they need ``dot`` and ``-o``).
RENDERED_FORMATS: Final[tuple[GraphFormat, ...]] = ("svg", "png")
#: The ``info`` topics.
INFO_TOPICS: Final[tuple[InfoTopic, ...]] = get_args(InfoTopic)
