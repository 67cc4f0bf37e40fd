"""Run the CLI in-process and classify what happened; count every input.

An outcome is one of four kinds:

- ``ok``: exit status 0.
- ``rejected``: exit status 2 with exactly one ``virtmodel: error:`` line on
  stderr (warnings aside) that has no traceback.
- ``failed``: exit status 1 with one ``virtmodel:`` line (a machine that did
  not come up; a clean outcome too).
- ``crash``: anything else: an exception escaped ``main``, a traceback or a
  multi-line error reached stderr, or an unexpected exit status.

:data:`TALLY` counts outcomes per fuzz target so ``bench/fuzz_report.py`` (and
a curious test run) can print inputs tried, rejected cleanly, and crashes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from virtmodel.machine.cli.main import main

#: The seeded corpus checked into the repository.
CORPUS: Final = Path(__file__).resolve().parent.parent / "corpus"

KINDS: Final = ("ok", "rejected", "failed", "crash")

#: Multiplies every fuzz test's hypothesis ``max_examples``; ``bench/fuzz_report.py``
#: raises it for a longer run. CI uses 1 (and ``derandomize``), so it is stable.
SCALE: Final = max(1, int(os.environ.get("VIRTMODEL_FUZZ_SCALE", "1")))


def examples(count: int) -> int:
    """Return *count* hypothesis examples, scaled by ``VIRTMODEL_FUZZ_SCALE``."""
    return count * SCALE


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one in-process CLI run did."""

    argv: tuple[str, ...]
    status: int | None
    stdout: str
    stderr: str
    kind: str
    #: Why a run counts as a crash (empty otherwise).
    problem: str = ""

    def error_lines(self) -> list[str]:
        """Return stderr's lines that are not warnings."""
        return [
            line
            for line in self.stderr.splitlines()
            if not line.startswith("virtmodel: warning: ")
        ]


def classify(
    argv: Sequence[str], status: int | None, out: str, err: str, escaped: str
) -> Outcome:
    """Return the :class:`Outcome` of a run with these results."""
    errors = [
        ln for ln in err.splitlines() if not ln.startswith("virtmodel: warning: ")
    ]
    problem = ""
    if escaped:
        problem = f"exception escaped main(): {escaped}"
    elif "Traceback" in err:
        problem = "a traceback reached stderr"
    elif status == 0:
        if errors:
            problem = f"exit 0 but stderr says {errors[0]!r}"
    elif status in (1, 2):
        prefix = "virtmodel: error: " if status == 2 else "virtmodel: "
        if len(errors) != 1:
            problem = f"exit {status} with {len(errors)} error lines, not 1"
        elif not errors[0].startswith(prefix) or len(errors[0]) <= len(prefix):
            problem = f"exit {status} with an unexpected line {errors[0]!r}"
    else:
        problem = f"unexpected exit status {status!r}"
    kind = "crash" if problem else {0: "ok", 1: "failed", 2: "rejected"}[status or 0]
    return Outcome(tuple(argv), status, out, err, kind, problem)


def run_cli(argv: Sequence[str]) -> Outcome:
    """Run ``virtmodel ARGV`` in this process; return its :class:`Outcome`."""
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    escaped = ""
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(argv))
    except SystemExit as exc:
        escaped = f"SystemExit({exc.code!r})"
    except Exception as exc:  # the whole point: nothing may escape
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        escaped = f"{type(exc).__name__}: {exc} at {frame.filename}:{frame.lineno}"
    return classify(argv, status, out.getvalue(), err.getvalue(), escaped)


class Tally:
    """Counts of outcomes per fuzz target, and the crashing inputs."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.crashes: list[tuple[str, str, str]] = []

    def record(self, target: str, kind: str, what: object, problem: str = "") -> None:
        """Count one input of *target* whose outcome was *kind*."""
        assert kind in KINDS, kind
        self.counts.setdefault(target, Counter())[kind] += 1
        if kind == "crash":
            self.crashes.append((target, repr(what), problem))

    def totals(self) -> Counter[str]:
        """Return the counts summed over every target."""
        total: Counter[str] = Counter()
        for counter in self.counts.values():
            total.update(counter)
        return total

    def table(self) -> str:
        """Return a Markdown table of the counts (targets in sorted order)."""
        rows = [
            "| target | inputs | accepted | rejected cleanly | failed cleanly | crashes |"
        ]
        rows.append("|---|---:|---:|---:|---:|---:|")
        items = [*sorted(self.counts.items()), ("**total**", self.totals())]
        for target, c in items:
            n = sum(c.values())
            rows.append(
                f"| {target} | {n} | {c['ok']} | {c['rejected']} | {c['failed']} "
                f"| {c['crash']} |"
            )
        return "\n".join(rows)


#: Shared by every fuzz test in one process.
TALLY: Final = Tally()


def load_corpus(name: str) -> list[dict[str, object]]:
    """Return the entries of ``tests/corpus/<name>.json``."""
    data = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def entry_argv(entry: dict[str, object]) -> list[str]:
    """Return a corpus entry's ``argv`` as a list of str."""
    argv = entry["argv"]
    assert isinstance(argv, list)
    assert all(isinstance(a, str) for a in argv)
    return [str(a) for a in argv]
