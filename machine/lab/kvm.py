"""The KVM-script part of a lab guest job, and its answers.

All scripts of a call go into one file, each followed by an ``end`` line (so
every script starts without a VM, whatever the previous one left open), and
one ``kvmexec`` process runs the file in one guest boot. Its answers come
back by line number of the combined file and are handed out per script.
"""

from __future__ import annotations

from collections.abc import Sequence

from virtmodel.machine.lab.paths import LabError
from virtmodel.machine.lab.script import (
    KvmScriptResult,
    ScriptCall,
    ScriptError,
    parse_results,
    parse_script,
)

__all__ = ["Plan", "kvm_job", "kvm_results"]

#: How long a KVM_RUN may take before its alarm ends it (milliseconds): a
#: run whose guest still has its MMIO store ahead (it exits within
#: milliseconds; the margin keeps the answer independent of the host's
#: load, and a run cut short leaves the store for the next run), and any
#: other run, which spins or fails at once.
FIRST_RUN_MS = 1000
RUN_MS = 50


#: Per script: (line in the combined file, call) for every answered call.
Plan = list[list[tuple[int, ScriptCall]]]


def _combine(scripts: Sequence[str]) -> tuple[str, Plan]:
    """Return the combined file and, per script, (combined line, call)."""
    lines: list[str] = []
    plan: Plan = []
    for index, text in enumerate(scripts):
        try:
            calls = parse_script(text)
        except ScriptError as exc:
            where = f"script {index}: "
            raise ScriptError(exc.line, exc.detail, where) from exc
        entries = []
        for call in calls:
            lines.append(call.text())
            if call.op != "end":
                entries.append((len(lines), call))
        lines.append("end")
        plan.append(entries)
    return "\n".join(lines) + "\n", plan


def kvm_job(scripts: Sequence[str]) -> tuple[str, dict[str, tuple[bytes, int]], Plan]:
    """Return the job fragment, its files and the answer plan for *scripts*.

    Raises:
        ScriptError: A script is malformed (message: ``script N: line L: ...``).
    """
    combined, plan = _combine(scripts)
    fragment = (
        f"section kvm ./kvmexec -T {FIRST_RUN_MS} -t {RUN_MS} -p '' scripts.kvm\n"
    )
    return fragment, {"scripts.kvm": (combined.encode(), 0o644)}, plan


def kvm_results(
    sections: dict[str, tuple[int, list[str]]], plan: Plan, console: str
) -> list[list[KvmScriptResult]]:
    """Return the per-script answers of the guest's ``kvm`` section.

    Raises:
        LabError: kvmexec failed, printed something unexpected, or left a
            call unanswered.
    """
    status, output = sections.get("kvm", (None, []))
    if status != 0:
        detail = output[-1] if output else "no output"
        msg = f"kvmexec failed in the lab guest (status {status}): {detail}"
        raise LabError(msg, console)
    try:
        answers = parse_results(output)
    except ValueError as exc:
        raise LabError(str(exc), console) from exc
    results = []
    for index, entries in enumerate(plan):
        mine = []
        for combined_line, call in entries:
            answer = answers.get(combined_line)
            if answer is None:
                msg = (
                    f"script {index}: kvmexec gave no answer for line {call.line} "
                    f"({call.text()})"
                )
                raise LabError(msg, console)
            ret, err, value = answer
            mine.append(KvmScriptResult(call.line, call.text(), ret, err, value))
        results.append(mine)
    return results
