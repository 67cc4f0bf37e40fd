"""Running callbacks in a given order and recording a :class:`Trace`.

Two failure policies: stop at the first exception (the rest are ``not-run``),
or keep going, where everything downstream of a failure in the constraint
graph is ``skipped`` and everything else still runs. Either way the failures
are raised together as one :class:`NotifierFailedError` after the walk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from virtmodel.notifiers.edges import DroppedEdge
from virtmodel.notifiers.errors import NotifierFailedError
from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.trace import Status, Step, Trace, Walk

if TYPE_CHECKING:
    import networkx as nx


def run(
    event: str,
    callbacks: Mapping[str, Callable[..., object]],
    notifiers: Callable[[], Mapping[str, Notifier]],
    graph: nx.DiGraph[str] | None,
    order: Sequence[str],
    call: tuple[tuple[Any, ...], dict[str, Any]],
    *,
    keep_going: bool,
    dropped: tuple[DroppedEdge, ...] = (),
    progress: dict[str, Status] | None = None,
) -> Trace:
    """Call each notifier of *order* with ``call`` = (args, kwargs).

    *callbacks* are the callbacks by name; *notifiers* returns the records
    by name, asked for only when someone reads the trace's steps (a walk of
    100,000 callbacks builds no record). *graph* is the constraint graph,
    read only in keep-going mode to skip what a failure leaves behind (None
    for a walk that stops at once).
    *progress*, when given, receives each name with its status as soon as its
    callback returns, so a registration made meanwhile sees how far it got.

    Raises:
        NotifierFailedError: At least one callback raised; ``.trace`` has all steps.
    """
    args, kwargs = call
    walk = Walk(notifiers, order)
    add = walk.durations.append
    outcomes = walk.outcomes
    clock = time.perf_counter
    failures: list[tuple[str, BaseException]] = []
    blocked: dict[str, str] = {}
    for index, name in enumerate(order):
        callback = callbacks[name]
        if name in blocked:
            add(0.0)
            outcomes[index] = (Status.SKIPPED, f"after failed {blocked[name]!r}")
            continue
        start = clock()
        try:
            callback(*args, **kwargs)
        except Exception as exc:  # any callback error is reported, never lost
            add(clock() - start)
            outcomes[index] = (Status.FAILED, repr(exc))
            failures.append((name, exc))
            if progress is not None:
                progress[name] = Status.FAILED
            if not keep_going:
                break  # the steps left are recorded as never run
            import networkx as nx  # loaded already: the plan was built with it

            assert graph is not None, "keep-going needs the constraint graph"
            for later in nx.descendants(graph, name):
                blocked.setdefault(later, name)
            continue
        add(clock() - start)
        if progress is not None:
            progress[name] = Status.RAN
    trace = Trace(event, walk, dropped)
    if failures:
        raise NotifierFailedError(event, failures, trace) from failures[0][1]
    return trace


def run_alone(
    event: str,
    record: Notifier,
    call: tuple[tuple[Any, ...], dict[str, Any]],
    steps: list[Step],
) -> None:
    """Run one late registrant, appending its step (marked late) to *steps*.

    Raises:
        NotifierFailedError: Its callback raised.
    """
    try:
        alone = {record.name: record}
        callbacks = {record.name: record.callback}
        trace = run(
            event, callbacks, lambda: alone, None, [record.name], call, keep_going=False
        )
    except NotifierFailedError as failed:
        trace = failed.trace
        raise
    finally:
        steps.extend(replace(step, late=True) for step in trace.steps)
