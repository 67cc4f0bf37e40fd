"""machine.kvm against the real Linux 6.1 arm64 KVM, call for call.

The ``realkvm`` test runs a seeded batch of generated scripts (at least
1,000) on the lab's real kernel in ONE guest boot and on the simulator, and
requires every call's (ret, errno, value) to agree. A disagreement is shrunk
on the real kernel and printed as a script to rerun with
``virtmodel lab kvm FILE``.

Knobs: ``VIRTMODEL_KVMDIFF_SEED`` (default 2016; ``random`` picks one and
prints it) and ``VIRTMODEL_KVMDIFF_SEQUENCES`` (default 1000).
"""

from __future__ import annotations

import errno
import os
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from tests.machine.lab.conftest import real_lab
from virtmodel.machine.kvm import differential
from virtmodel.machine.kvm.script import parse, run_script
from virtmodel.machine.kvm.scriptgen import ScriptGenerator

DEFAULT_SEED = 2016
MIN_SEQUENCES = 1000


def _seed() -> int:
    text = os.environ.get("VIRTMODEL_KVMDIFF_SEED", str(DEFAULT_SEED))
    return (
        random.SystemRandom().randrange(1 << 32) if text == "random" else int(text, 0)
    )


def _sequences() -> int:
    return int(os.environ.get("VIRTMODEL_KVMDIFF_SEQUENCES", str(MIN_SEQUENCES)))


def test_the_generator_is_seeded_and_deterministic() -> None:
    assert ScriptGenerator(7).scripts(20) == ScriptGenerator(7).scripts(20)
    assert ScriptGenerator(7).scripts(20) != ScriptGenerator(8).scripts(20)


def test_generated_scripts_reach_every_operation_group_and_outcome() -> None:
    scripts = ScriptGenerator(DEFAULT_SEED).scripts(MIN_SEQUENCES)
    ops: Counter[str] = Counter()
    device_groups: set[int] = set()
    vcpu_groups: set[int] = set()
    errnos: Counter[int] = Counter()
    memory_errnos: set[int] = set()
    routing_errnos: set[int] = set()
    for text in scripts:
        calls = parse(text)
        for call in calls:
            ops[call.op] += 1
            if call.op in ("set_attr", "get_attr", "has_attr"):
                device_groups.add(int(call.args[1]))
            elif call.op.startswith("vcpu_") and call.op != "vcpu_init":
                vcpu_groups.add(int(call.args[1]))
        memory = {c.line for c in calls if c.op == "set_user_memory_region"}
        routing = {c.line for c in calls if c.op == "set_gsi_routing"}
        for result in run_script(text):
            errnos[result.errno] += 1
            if result.line in memory:
                memory_errnos.add(result.errno)
            if result.line in routing:
                routing_errnos.add(result.errno)

    assert set(ops) == {
        "create_vm", "create_vcpu", "vcpu_init", "create_device", "set_attr",
        "get_attr", "has_attr", "vcpu_set_attr", "vcpu_get_attr", "vcpu_has_attr",
        "run", "set_user_memory_region", "set_gsi_routing", "end",
    }  # fmt: skip
    assert set(range(10)) <= device_groups
    assert {0, 1, 2} <= vcpu_groups
    # Successes and every errno the model produces on the lab's host, among
    # them EIO (dead VM), ENOEXEC (no init), EINTR (second run), EBADF.
    assert {0, 1, 2, 4, 5, 6, 7, 8, 9, 14, 16, 17, 19, 22} <= set(errnos)
    assert sum(errnos.values()) > 20 * MIN_SEQUENCES
    # Memory slots made, moved and deleted; refused as bad (EINVAL),
    # overlapping (EEXIST) and past the IPA space (EFAULT).
    assert {0, errno.EINVAL, errno.EEXIST, errno.EFAULT} <= memory_errnos
    assert {0, errno.EINVAL} <= routing_errnos


def test_the_interpreter_answers_like_kvmexec() -> None:
    script = "\n".join(
        [
            "create_vm 0",  # 1: fd 5
            "create_vcpu 0",  # 2: fd 6
            "run 0",  # 3: never initialised
            "vcpu_init 0 0",
            "create_device 7 1",  # 5: a probe makes no handle
            "create_device 5 1",  # 6: no GICv2 emulation on the lab's host
            "create_device 7 0",  # 7: d0
            "get_attr d1 0 2 0",  # 8: no such handle
            "set_attr d0 0 2 0x8000000",
            "get_attr d0 0 2 0xffffffffffffffff",  # 10
            "run 0",  # 11: the redistributor is missing: the VM dies
            "run 0",  # 12
            "end",
            "create_vm 0x28",  # 14: a new VM, fd 5 again
        ]
    )

    answers = [str(r) for r in run_script(script)]

    assert answers == [
        "1 5 0 -",
        "2 6 0 -",
        "3 -1 8 -",
        "4 0 0 -",
        "5 0 0 -",
        "6 -1 19 -",
        "7 0 0 -",
        "8 -1 9 -",
        "9 0 0 -",
        "10 0 0 0x8000000",
        "11 -1 6 -",
        "12 -1 5 -",
        "14 5 0 -",
    ]


def test_first_runs_exit_to_userspace_then_loop_until_the_alarm() -> None:
    script = "\n".join(
        [
            "create_vm 0",
            "create_vcpu 0",
            "vcpu_init 0 0",
            "create_vcpu 1",
            "vcpu_init 1 1",  # POWER_OFF
            "run 0",
            "run 0",
            "run 1",
            "vcpu_init 0 0",  # the reset puts the PC at 0
            "run 0",
            "vcpu_set_attr 0 2 0 0x80000040",  # stolen time inside the guest's slot
            "vcpu_set_attr 1 2 0 0x90000000",  # outside any memory
        ]
    )

    answers = [(r.ret, r.errno) for r in run_script(script)]

    assert answers[5:] == [(0, 0), (-1, 4), (-1, 4), (0, 0), (-1, 4), (0, 0), (-1, 22)]


def test_a_mismatch_is_reported_as_a_script_marking_the_line() -> None:
    script = "create_vm 0\ncreate_vcpu 0\nrun 0\nend\n"
    real = [(1, 5, 0, None), (2, 6, 0, None), (3, -1, 4, None)]

    mismatch = differential.first_mismatch(script, real)

    assert mismatch is not None
    assert (mismatch.line, mismatch.real, mismatch.simulated) == (
        3,
        (-1, 4, None),
        (-1, 8, None),
    )
    assert "run 0    # <-- differs" in mismatch.report()
    assert (
        differential.first_mismatch(
            script, [(1, 5, 0, None), (2, 6, 0, None), (3, -1, 8, None)]
        )
        is None
    )


def test_a_first_run_the_alarm_cut_short_is_timing_not_a_disagreement() -> None:
    script = "create_vm 0\ncreate_vcpu 0\nvcpu_init 0 0\nrun 0\nrun 0\nend\n"
    cut_short = [(1, 5, 0, None), (2, 6, 0, None), (3, 0, 0, None)]
    cut_short += [(4, -1, 4, None), (5, 0, 0, None)]  # the store comes one run later
    # Two MMIO exits from one store cannot be timing.
    wrong = [*cut_short[:3], (4, 0, 0, None), (5, 0, 0, None)]

    assert differential.first_mismatch(script, cut_short) is None
    assert differential.interrupted_runs(script, cut_short) == 1
    mismatch = differential.first_mismatch(script, wrong)
    assert mismatch is not None
    assert mismatch.line == 5


def test_shrinking_keeps_only_the_lines_the_disagreement_needs() -> None:
    script = (
        "create_vm 0\ncreate_vcpu 0\ncreate_device 7 0\ncreate_vcpu 1\nrun 1\nend\n"
    )

    def fake_real(scripts: Sequence[str]) -> list[differential.Answers]:
        # A "kernel" that differs from the model in one way: it lets an
        # uninitialised vCPU run.
        out: list[differential.Answers] = []
        for text in scripts:
            answers = differential.simulate(text)
            out.append(
                [(n, 0, 0, None) if e == 8 else (n, r, e, v) for n, r, e, v in answers]
            )
        return out

    found = differential.shrink(script, fake_real)

    assert found is not None
    assert found.script == "create_vm 0\ncreate_vcpu 1\nrun 1\nend\n"


def _run_real(scripts: Sequence[str]) -> list[differential.Answers]:
    from virtmodel.machine.lab import run_kvm_scripts

    results = run_kvm_scripts(list(scripts))
    return [[(r.line, r.ret, r.errno, r.value) for r in script] for script in results]


@pytest.mark.realkvm
def test_the_simulator_agrees_with_the_real_6_1_kernel_on_every_call() -> None:
    real_lab()
    seed, count = _seed(), _sequences()
    scripts = ScriptGenerator(seed).scripts(count)

    answers = _run_real(scripts)

    mismatches = [
        m
        for text, real in zip(scripts, answers, strict=True)
        if (m := differential.first_mismatch(text, real)) is not None
    ]
    calls = sum(len(a) for a in answers)
    cut_short = sum(
        differential.interrupted_runs(text, real)
        for text, real in zip(scripts, answers, strict=True)
    )
    # Anything else that is not deterministic: a disagreement counts only if
    # a second boot answers the same way.
    flaky = 0
    if mismatches:
        again = _run_real([m.script for m in mismatches])
        confirmed = [
            m
            for m, real in zip(mismatches, again, strict=True)
            if differential.first_mismatch(m.script, real) == m
        ]
        flaky = len(mismatches) - len(confirmed)
        mismatches = confirmed
    print(
        f"seed {seed}: {count} sequences, {calls} calls, {len(mismatches)} disagreeing"
        f" ({flaky} more did not repeat on a second boot; {cut_short} first runs"
        " cut short by the executor's alarm)"
    )
    if mismatches:
        shrunk = differential.shrink(mismatches[0].script, _run_real) or mismatches[0]
        pytest.fail(
            f"seed {seed}: {len(mismatches)} of {count} sequences disagree; "
            f"smallest reproducer found:\n{shrunk.report()}"
        )


def test_a_mismatch_after_an_interrupted_run_ends_the_count() -> None:
    script = "create_vm 0\ncreate_vcpu 0\nvcpu_init 0 0\nrun 0\nrun 0\nend\n"
    answers = [(1, 5, 0, None), (2, 6, 0, None), (3, 0, 0, None)]
    cut_short_then_wrong = [*answers, (4, -1, 4, None), (5, -1, 22, None)]
    wrong_at_once = [*answers, (4, -1, 22, None), (5, 0, 0, None)]

    assert differential.interrupted_runs(script, cut_short_then_wrong) == 1
    assert differential.interrupted_runs(script, wrong_at_once) == 0
    mismatch = differential.first_mismatch(script, cut_short_then_wrong)
    assert mismatch is not None
    assert (mismatch.line, mismatch.real) == (5, (-1, 22, None))


def test_a_call_the_real_side_never_answered_is_a_mismatch() -> None:
    script = "create_vm 0\ncreate_vcpu 0\nend\n"

    mismatch = differential.first_mismatch(script, [(1, 5, 0, None)])

    assert mismatch is not None
    assert (mismatch.line, mismatch.call) == (2, "create_vcpu 0")
    assert mismatch.real == (-2, 0, None)
    assert mismatch.simulated == (6, 0, None)
    assert "real ret -2 errno 0 value -" in mismatch.report()


def _disagreeing_while(*needles: str) -> differential.RealRunner:
    """A "kernel" whose first answer differs while a script has a needle line."""

    def run(scripts: Sequence[str]) -> list[differential.Answers]:
        out: list[differential.Answers] = []
        for text in scripts:
            answers = differential.simulate(text)
            if any(needle in text.splitlines() for needle in needles):
                line, ret, _, value = answers[0]
                answers[0] = (line, ret, 99, value)
            out.append(answers)
        return out

    return run


def test_shrinking_an_agreeing_script_finds_nothing() -> None:
    script = "create_vm 0\ncreate_vcpu 0\nend\n"

    assert differential.shrink(script, _disagreeing_while()) is None


def test_shrinking_stops_when_only_the_first_line_and_end_are_left() -> None:
    found = differential.shrink("create_vm 0\nend\n", _disagreeing_while("end"))

    assert found is not None
    assert (found.script, found.line) == ("create_vm 0\nend\n", 1)


def test_shrinking_keeps_one_line_when_only_its_deletion_keeps_the_mismatch() -> None:
    script = "create_vm 0\ncreate_vcpu 2\ncreate_vcpu 3\nend\n"

    found = differential.shrink(script, _disagreeing_while("create_vcpu 3"))

    assert found is not None
    assert found.script == "create_vm 0\ncreate_vcpu 3\nend\n"


def test_shrinking_falls_back_to_one_cut_when_cutting_all_loses_the_mismatch() -> None:
    # Either vCPU line alone keeps the disagreement; deleting both loses it.
    script = "create_vm 0\ncreate_vcpu 2\ncreate_vcpu 3\nend\n"

    run_real = _disagreeing_while("create_vcpu 2", "create_vcpu 3")
    found = differential.shrink(script, run_real)

    assert found is not None
    assert found.script == "create_vm 0\ncreate_vcpu 3\nend\n"


def test_shrinking_makes_at_most_the_given_number_of_rounds() -> None:
    script = "create_vm 0\ncreate_vcpu 1\ncreate_vcpu 2\ncreate_vcpu 3\nend\n"
    run_real = _disagreeing_while("create_vcpu 3")

    unshrunk = differential.shrink(script, run_real, rounds=0)
    shrunk = differential.shrink(script, run_real, rounds=1)

    assert unshrunk is not None
    assert unshrunk.script == script
    assert shrunk is not None
    assert shrunk.script == "create_vm 0\ncreate_vcpu 3\nend\n"
