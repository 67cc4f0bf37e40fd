"""The classroom page's JSON API: query parameters in, plain dicts out.

Every answer is computed on a fresh machine (``boards.virt.lesson``), so
a page can ask again and again. Parameters are the CLI's, spelled as query
keys: ``kernel``, ``notifiers``, ``its_init``, ``machine``, ``smp``,
``memory``, ``cpu``, ``accel``, ``drop`` (repeatable, ``NOTIFIER=TARGET``).
Anything wrong with them is an :class:`ApiError` with an HTTP status and a
one-line reason naming the culprit; the server turns it into a 4xx answer.

- ``options``: the choices and the defaults the page starts from;
- ``run``: bring the machine up; its trace, the init-done graph (SVG, numbered
  in the order that runs), the order, each notifier's fate, the declared
  edges (candidates for ``drop``), the broken ones and the hazards;
- ``explore``: init-done under many valid orders (``limit``), with culprits;
- ``explain``: why ``a`` and ``b`` run in the order they do.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

from virtmodel.machine.boards.virt.board import virt_board
from virtmodel.machine.boards.virt.lesson import STORY, bring_up, fresh_virt
from virtmodel.machine.boards.virt.matrix import ERAS, MODES, PLACEMENTS
from virtmodel.machine.errors import MachineError
from virtmodel.machine.machine import Machine
from virtmodel.machine.phases import Phase
from virtmodel.machine.trace import MachineTrace, TraceEntry, folded
from virtmodel.notifiers import NotifierError

#: Query keys that are machine options, with their CLI spelling.
MACHINE_KEYS: Final = {
    "machine": "-M",
    "smp": "-smp",
    "memory": "-m",
    "cpu": "-cpu",
    "accel": "-accel",
}
CHOICES: Final = {"kernel": ERAS, "notifiers": MODES, "its_init": PLACEMENTS}
SINGLE: Final = frozenset({*MACHINE_KEYS, *CHOICES, "limit", "a", "b"})
_T = TypeVar("_T", bound=str)
#: explore's limit: the page's default and the most one request may ask for.
LIMIT_DEFAULT: Final = 2520
LIMIT_MAX: Final = 5000
#: Longest value accepted for any parameter.
MAX_VALUE: Final = 200
# explore is CPU-bound; one at a time keeps the page responsive for others.
_EXPLORING = threading.Lock()


class ApiError(Exception):
    """A request the API refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        #: The HTTP status to answer with (4xx).
        self.status = status
        #: The one-line reason.
        self.reason = reason


class Settings:
    """A request's validated settings (defaults filled in)."""

    def __init__(
        self, query: Mapping[str, Sequence[str]], defaults: Mapping[str, str]
    ) -> None:
        allowed = {*SINGLE, "drop"}
        for key, values in query.items():
            if key not in allowed:
                raise ApiError(400, f"unknown parameter {key!r}")
            if key in SINGLE and len(values) > 1:
                raise ApiError(400, f"parameter {key!r} given {len(values)} times")
            for value in values:
                if len(value) > MAX_VALUE or not value.isprintable():
                    raise ApiError(400, f"parameter {key!r} is too long or unprintable")
        one = {key: values[0] for key, values in query.items() if key in SINGLE}
        merged = {**defaults, **one}
        self.kernel = _choice("kernel", merged, ERAS)
        self.notifiers = _choice("notifiers", merged, MODES)
        self.its_init = _choice("its_init", merged, PLACEMENTS)
        self.options = {key: merged[key] for key in MACHINE_KEYS}
        self.drop = [_drop(text) for text in query.get("drop", ())]
        self.limit = _limit(one.get("limit"))
        self.pair = (one.get("a"), one.get("b"))

    def build(self) -> dict[str, Any]:
        """Return the keyword arguments of ``bring_up`` (boards.virt.lesson)."""
        return {
            "kernel": self.kernel,
            "notifiers": self.notifiers,
            "its_init": self.its_init,
            "drop_edges": self.drop,
            **self.options,
        }


def _choice(key: str, merged: Mapping[str, str], choices: tuple[_T, ...]) -> _T:
    """Return the one of *choices* that ``merged[key]`` names.

    Raises:
        ApiError: It names none of them (400, the allowed ones listed).
    """
    for choice in choices:
        if merged[key] == choice:
            return choice
    raise ApiError(400, f"{key} {merged[key]!r} is not one of {', '.join(choices)}")


def _drop(text: str) -> tuple[str, str]:
    name, sep, target = text.partition("=")
    if not sep or not name or not target:
        raise ApiError(400, f"drop {text!r} must look like NOTIFIER=TARGET")
    return (name, target)


def _limit(text: str | None) -> int:
    if text is None:
        return LIMIT_DEFAULT
    if not text.isdigit() or not 1 <= int(text) <= LIMIT_MAX:
        raise ApiError(
            400, f"limit {text!r} must be a whole number from 1 to {LIMIT_MAX}"
        )
    return int(text)


def defaults(machine_options: Mapping[str, str | None]) -> dict[str, str]:
    """Return the page's starting settings: the 2016 story, then *machine_options*."""
    given = {k: v for k, v in machine_options.items() if v is not None}
    return {
        "kernel": "v4.8-rc1",
        "notifiers": "qemu-lifo",
        "its_init": "init-done",
        **STORY,
        **given,
    }


def options(start: Mapping[str, str]) -> dict[str, Any]:
    """Return what the page's form offers and where it starts."""
    return {
        "choices": {key: list(values) for key, values in CHOICES.items()},
        "accel": ["kvm", "tcg"],
        "machine_keys": MACHINE_KEYS,
        "defaults": dict(start),
        "limit": {"default": LIMIT_DEFAULT, "max": LIMIT_MAX},
    }


def _refused(error: Exception) -> ApiError:
    text = str(error).strip().splitlines()
    return ApiError(400, text[0] if text else type(error).__name__)


def run(settings: Settings) -> dict[str, Any]:
    """Bring a fresh machine up; return what the page shows of it.

    Raises:
        ApiError: Bad machine options or a drop that matches no declaration.
    """
    try:
        result = bring_up(**settings.build())
    except MachineError as error:
        raise _refused(error) from None
    machine = result.machine
    if machine.phase.reached(Phase.MACHINE_INITIALIZED):
        _check_drops(machine)
    init_done = machine.init_done
    failure = result.failure
    answer: dict[str, Any] = {
        "ok": result.ok,
        "failure": None if failure is None else str(failure),
        "errno": result.errno_name,
        "failed_notifier": machine.failure.notifier if machine.failure else None,
        "describe": virt_board(machine).describe(),
        "steps": _steps(machine.trace),
        "statuses": init_done.statuses(),
        "order": [],
        "svg": "",
        "edges": [],
        "violated": [],
        "hazards": [],
    }
    if len(init_done.registry):
        answer["order"] = init_done.order()
        answer["svg"] = init_done.registry.to_svg(order=init_done.imposed_order())
        answer["edges"] = [
            {"source": u, "target": v, **attrs}
            for u, v, attrs in init_done.registry.graph().edges(data=True)
        ]
        answer["violated"] = [edge.as_dict() for edge in init_done.violated_edges()]
        answer["hazards"] = [str(hazard) for hazard in init_done.hazards()]
    return answer


def _check_drops(machine: Machine) -> None:
    unused = machine.unused_drop_edges()
    if unused:
        name, target = unused[0]
        msg = f"drop {name}={target}: {name!r} declares no after=/before= {target!r}"
        raise ApiError(400, msg)


def _steps(trace: MachineTrace) -> list[dict[str, Any]]:
    """Return every trace entry, each run the text trace folds marked on its first.

    The page steps over a folded run (the 32 virtio-mmio realizes, the
    hundreds of vGIC writes of a reset) in one click: ``run`` is how many
    entries the step covers and ``summary`` the line standing for them.
    """
    steps = []
    for group in trace.groups():
        summary = folded(group).split(maxsplit=1)[1] if len(group) > 1 else None
        for index, entry in enumerate(group):
            step = _step(entry)
            step["run"] = len(group) if index == 0 else 0
            step["summary"] = summary if index == 0 else None
            steps.append(step)
    return steps


def _step(entry: TraceEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "kind": entry.kind.value,
        "text": entry.text,
        "depth": entry.depth,
        "ok": entry.ok,
        "notifier": entry.data.get("notifier"),
        "phase": entry.data.get("phase"),
    }


def explain(settings: Settings) -> dict[str, Any]:
    """Explain the order of the ``a`` and ``b`` notifiers on this machine.

    Raises:
        ApiError: ``a``/``b`` missing or unknown, or bad machine options.
    """
    first, second = settings.pair
    if not first or not second:
        raise ApiError(400, "explain needs two notifiers: a=NAME&b=NAME")
    machine = _initialized(settings)
    try:
        answer = machine.init_done.explain(first, second)
    except NotifierError as error:
        raise _refused(error) from None
    return {**answer.as_dict(), "text": str(answer)}


def _initialized(settings: Settings) -> Machine:
    try:
        machine = fresh_virt(**settings.build())
    except MachineError as error:
        raise _refused(error) from None
    try:
        machine.create()
        machine.create_accel()
        machine.init_board(virt_board(machine).init)
    except (MachineError, OSError) as error:  # a KVM call failed in realize
        reason = _refused(error).reason
        raise ApiError(
            400, f"this machine does not reach init-done: {reason}"
        ) from None
    return machine


def explore(settings: Settings) -> dict[str, Any]:
    """Run init-done under up to ``limit`` valid orders; return the report.

    Raises:
        ApiError: Bad options, qemu-lifo mode (it has one order), or another
            exploration is running (409: try again).
    """
    from virtmodel.machine.boards.virt.explore import init_done_builder
    from virtmodel.notifiers.explore import explore as run_orders

    if settings.notifiers != "ordered":
        raise ApiError(
            400, "explore runs the registry's orders; choose notifiers=ordered"
        )
    # One machine up to its declarations: bad options, a drop that matches
    # nothing, or a machine that never reaches init-done are refused here.
    probe = _initialized(settings)
    _check_drops(probe)
    build, check = init_done_builder(
        virt_board(probe).config,
        kernel_semantics=settings.kernel,
        its_init=settings.its_init,
        drop_edges=settings.drop,
    )
    if not _EXPLORING.acquire(blocking=False):
        raise ApiError(409, "another exploration is running; try again when it ends")
    try:
        result = run_orders(build, check=check, limit=settings.limit, seed=0)
    except (MachineError, NotifierError, OSError) as error:
        raise _refused(error) from None
    finally:
        _EXPLORING.release()
    return {**result.as_dict(), "text": str(result)}
