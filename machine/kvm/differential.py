"""Compare the simulator with a real kernel on KVM scripts, and shrink a mismatch.

The real side is any callable that runs many scripts at once and returns, per
script, each call line's ``(line, ret, errno, value)`` -- the lab's
``run_kvm_scripts`` in practice, so this module stays independent of it. A
disagreement is shrunk by deleting lines while the two sides still disagree,
many candidates per real run (one guest boot per round), and is reported as a
script anyone can rerun. The executor bounds every ``KVM_RUN`` with an
alarm; a first run that the alarm cuts short before the guest's store is a
matter of timing under nested TCG, so the comparison follows the real side
there (and counts it) instead of calling it a disagreement.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from virtmodel.machine.kvm.script import Result, run_script

#: Per script, the answers of each call line: (line, ret, errno, value).
Answers = Sequence[tuple[int, int, int, int | None]]
RealRunner = Callable[[Sequence[str]], list[Answers]]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The first call line where the two kernels answer differently."""

    script: str
    line: int
    call: str
    real: tuple[int, int, int | None]
    simulated: tuple[int, int, int | None]

    def report(self) -> str:
        """Return a reproducer: the script, and what each side answered."""
        body = "".join(
            f"{text}{'    # <-- differs' if number == self.line else ''}\n"
            for number, text in enumerate(self.script.splitlines(), start=1)
        )
        return (
            f"line {self.line} ({self.call}): real {_show(self.real)}, "
            f"simulated {_show(self.simulated)}\n{body}"
        )


def _show(answer: tuple[int, int, int | None]) -> str:
    ret, err, value = answer
    shown = "-" if value is None else f"0x{value:x}"
    return f"ret {ret} errno {err} value {shown}"


def simulate(
    script: str, interrupted: frozenset[int] = frozenset()
) -> list[tuple[int, int, int, int | None]]:
    """Return the simulator's answers to *script* in the real side's shape."""
    return [_tuple(r) for r in run_script(script, interrupted=interrupted)]


def _tuple(result: Result) -> tuple[int, int, int, int | None]:
    return (result.line, result.ret, result.errno, result.value)


def first_mismatch(script: str, real: Answers) -> Mismatch | None:
    """Return where the simulator first disagrees with *real*, if anywhere.

    A first run the real executor's alarm cut short (EINTR where the model
    has the guest reach its MMIO store) is timing, not kernel behaviour: the
    comparison takes it from the real side and goes on (see
    :func:`interrupted_runs`).
    """
    interrupted: set[int] = set()
    while True:
        mismatch = _compare(script, real, frozenset(interrupted))
        if mismatch is None or not _cut_short(mismatch):
            return mismatch
        interrupted.add(mismatch.line)


def interrupted_runs(script: str, real: Answers) -> int:
    """Return how many runs of *script* the real executor's alarm cut short."""
    count = 0
    interrupted: set[int] = set()
    while (mismatch := _compare(script, real, frozenset(interrupted))) is not None:
        if not _cut_short(mismatch):
            break
        interrupted.add(mismatch.line)
        count += 1
    return count


def _cut_short(mismatch: Mismatch) -> bool:
    return (
        mismatch.call.split()[0] == "run"
        and mismatch.real == (-1, errno.EINTR, None)
        and mismatch.simulated == (0, 0, None)
    )


def _compare(
    script: str, real: Answers, interrupted: frozenset[int]
) -> Mismatch | None:
    lines = script.splitlines()
    simulated = {
        line: (ret, err, value)
        for line, ret, err, value in simulate(script, interrupted)
    }
    missing: tuple[int, int, int | None] = (-2, 0, None)  # the side gave no answer
    for line, ret, err, value in real:
        mine = simulated.pop(line, missing)
        if mine != (ret, err, value):
            text = lines[line - 1].strip()
            return Mismatch(script, line, text, (ret, err, value), mine)
    if simulated:
        extra = min(simulated)
        text = lines[extra - 1].strip()
        return Mismatch(script, extra, text, missing, simulated[extra])
    return None


def shrink(script: str, run_real: RealRunner, rounds: int = 8) -> Mismatch | None:
    """Return a smallest-found script on which the two sides still disagree.

    Each round runs every one-line deletion of the current script on the
    real side in one batch, then tries deleting all the lines whose deletion
    kept a disagreement at once (a second batch); it keeps the largest cut
    that still disagrees.
    """
    current = script
    found = _check(current, run_real([current])[0])
    if found is None:
        return None
    for _ in range(rounds):
        lines = current.splitlines()
        removable = [i for i in range(1, len(lines)) if lines[i] != "end"]
        candidates = [_without(lines, {i}) for i in removable]
        if not candidates:
            break
        answers = run_real(candidates)
        cuts = [
            (i, candidate, mismatch)
            for i, candidate, real in zip(removable, candidates, answers, strict=True)
            if (mismatch := _check(candidate, real)) is not None
        ]
        if not cuts:
            break
        current, found = cuts[0][1], cuts[0][2]
        if len(cuts) > 1:
            combined = _without(lines, {i for i, _, _ in cuts})
            mismatch = _check(combined, run_real([combined])[0])
            if mismatch is not None:
                current, found = combined, mismatch
    return found


def _without(lines: list[str], drop: set[int]) -> str:
    return "\n".join(t for i, t in enumerate(lines) if i not in drop) + "\n"


def _check(script: str, real: Answers) -> Mismatch | None:
    return first_mismatch(script, real)
