"""The QEMU-trace part of a lab guest job: real QEMU 7.2 under real KVM.

Each configuration runs Debian's arm64 ``qemu-system-aarch64 -accel kvm -S
-nographic -nic none`` plus its machine arguments inside the guest, with
``kvmtrace.so`` preloaded. With ``-S`` QEMU builds the machine, resets it
once (the ITS reset and the vGIC state QEMU writes at reset are in the log)
and then waits. Every QEMU gets a monitor on a pipe: its answer to ``info
status`` is what says start-up is over (the monitor answers only from QEMU's
main loop), and ``system_reset`` goes the same way. The guest's job then
stops QEMU with SIGKILL, so no shutdown-time calls muddle the log; a QEMU
that exited by itself is told apart by its exit status, not by a last look
at ``/proc``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final, TextIO

from virtmodel.machine.errors import MachineError
from virtmodel.machine.lab.paths import LabError
from virtmodel.machine.trace import FOLD_CALLS_AT, calls_summary

if TYPE_CHECKING:
    # Imported where used, so that the CLI's parser (which reads this
    # module's constants) does not pull in the KVM model and the runner.
    from virtmodel.machine.lab.tracelog import TracedCall

__all__ = [
    "DEFAULT_CONFIGURATION",
    "FIXED_ARGS",
    "QemuTrace",
    "UsageProblem",
    "full_args",
    "print_traces",
    "qemu_job",
    "qemu_results",
    "split_configurations",
]

#: What every traced QEMU gets, before the configuration's own arguments.
FIXED_ARGS: Final = ("-accel", "kvm", "-S", "-nographic", "-nic", "none")
#: The configuration traced when none is given.
DEFAULT_CONFIGURATION: Final = (
    "-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "256M", "-cpu", "host",
)  # fmt: skip
#: The line the guest's job writes into the log before ``system_reset``.
RESET_MARKER: Final = "# system_reset"
#: Options a configuration may not give: the lab fixes them.
_FIXED_OPTIONS: Final = frozenset(
    {"-accel", "--accel", "-enable-kvm", "--enable-kvm", "-S", "-nographic", "-nic",
     "-display", "-daemonize", "-monitor", "-serial", "-kernel", "-initrd"}
)  # fmt: skip

_SETTLE: Final = r"""
export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu
# A traced QEMU may be given more RAM than the guest has (-m 8G in a 2G
# guest): with -S it touches little of it, so let the mmap succeed.
echo 1 >/proc/sys/vm/overcommit_memory
alive() { [ -e /proc/$1/stat ] && ! grep -q ') Z ' /proc/$1/stat; }
# QEMU's monitor answers only once its machine is built and reset and it
# waits under -S: the answer, not a quiet log, says start-up is over.
answers() { grep -o "$2" $1 | wc -l; }
# await PID FILE PATTERN COUNT: wait until FILE holds COUNT matches of
# PATTERN, PID ended, or 300 s (a loaded machine starts QEMU slowly).
await() {
    waited=0
    while alive $1 && [ $(answers $2 "$3") -lt $4 ] && [ $waited -lt 300 ]; do
        sleep 1; waited=$((waited + 1))
    done
    # The tracer writes a run of ONE_REG calls out after 100 ms of quiet.
    sleep 1
}
# ask MON LINE: send LINE to the monitor. In the background: opening the
# FIFO blocks until QEMU opens its end, which a QEMU that fails never does.
ask() { echo "$2" >$1.in & writers="$writers $!"; }
# trace NAME RESET ARGS...: run QEMU under the tracer until it waits under
# -S; with RESET=1, then send system_reset on its monitor and wait again.
trace() {
    name=$1; reset=$2; shift 2
    log=/tmp/$name.log; mon=/tmp/$name.mon; writers=
    : >$log; : >$mon.txt
    mkfifo $mon.in $mon.out
    KVMTRACE_LOG=$log LD_PRELOAD=/lab/kvmtrace.so \
        /usr/bin/qemu-system-aarch64 "$@" -monitor pipe:$mon \
        </dev/null >/tmp/$name.out 2>&1 &
    pid=$!
    started=$(date +%s)
    cat $mon.out >$mon.txt &
    reader=$!
    ask $mon "info status"
    await $pid $mon.txt "VM status" 1
    if [ "$reset" = 1 ] && alive $pid; then
        echo "# system_reset" >>$log
        # The reset runs when the main loop has handled the command, so the
        # next question, asked after its prompt, is answered after the reset.
        prompts=$(answers $mon.txt "(qemu)")
        ask $mon system_reset
        await $pid $mon.txt "(qemu)" $((prompts + 1))
        ask $mon "info status"
        await $pid $mon.txt "VM status" 2
    fi
    # Whether QEMU was still running is decided by how it ended, not by a
    # last look at /proc: a QEMU busy exiting looks alive and then reports
    # its own status. Only a QEMU our SIGKILL ended was still running.
    killed=0
    if alive $pid && kill -KILL $pid 2>/dev/null; then killed=1; fi
    wait $pid
    status=$?
    if [ $killed = 1 ] && [ $status = 137 ]; then state=running; else state=exited; fi
    kill $reader $writers 2>/dev/null
    echo "$state $status $(($(date +%s) - started))" >/tmp/$name.state
    section $name.log cat $log
    section $name.out cat /tmp/$name.out
    section $name.state cat /tmp/$name.state
}
"""


class UsageProblem(MachineError, ValueError):
    """A configuration's QEMU arguments cannot be traced as given."""


@dataclass(frozen=True, slots=True)
class QemuTrace:
    """One configuration's run: its arguments, its KVM calls, how it ended."""

    #: The QEMU arguments after the program name.
    args: tuple[str, ...]
    #: Every traced call, in order (probes and ONE_REG runs included).
    calls: tuple[TracedCall, ...]
    #: QEMU was still running (waiting under -S) when it was stopped.
    running: bool
    #: QEMU's exit status, or the signal's negative when it was stopped.
    status: int
    #: QEMU's own output (stdout and stderr).
    output: tuple[str, ...]
    #: With a monitor ``system_reset``: how many calls came before it.
    reset_at: int | None = None
    #: Seconds the guest spent on this QEMU, start to end.
    seconds: int = 0

    @property
    def ok(self) -> bool:
        """Whether QEMU got its machine up and was waiting, as -S asks."""
        return self.running

    def machine_calls(self) -> list[TracedCall]:
        """Return the calls on the machine's VM, without the scratch VMs.

        QEMU's ``-cpu host`` probes the host CPU in short-lived scratch VMs;
        the machine's VM is the one that gets an in-kernel device (else the
        one with the most calls).
        """
        with_device = [
            call.vm
            for call in self.calls
            if call.ioctl == "KVM_CREATE_DEVICE" and call.ok and call.attr is None
        ]
        counts = Counter(call.vm for call in self.calls if call.vm is not None)
        if not counts:
            return []
        vm = with_device[0] if with_device else counts.most_common(1)[0][0]
        return [call for call in self.calls if call.vm == vm]


def split_configurations(words: Sequence[str]) -> list[tuple[str, ...]]:
    """Split qemu-trace's words at ``--`` into configurations, with defaults.

    An empty word list is the default configuration. A configuration
    without ``-M``/``-machine`` gets ``-M virt``; without ``-cpu``, ``-cpu
    host`` (QEMU's default CPU for virt cannot run under KVM).

    Raises:
        UsageProblem: A configuration is empty between two ``--`` or gives an
            option the lab fixes (``-accel``, ``-S``, ``-nic``, ...).
    """
    if not words:
        return [DEFAULT_CONFIGURATION]
    groups: list[list[str]] = [[]]
    for word in words:
        if word == "--":
            groups.append([])
        else:
            groups[-1].append(word)
    if groups[0] == [] and len(groups) > 1:
        groups.pop(0)  # a leading "--" only separates qemu-trace's options
    configs = []
    for index, group in enumerate(groups):
        if not group:
            msg = f"configuration {index + 1} is empty (two '--' in a row?)"
            raise UsageProblem(msg)
        for previous, word in zip(["", *group], group, strict=False):
            option = word.split("=", 1)[0]
            machine = previous in ("-M", "-machine", "--machine")
            if option in _FIXED_OPTIONS or (machine and "accel=" in word):
                msg = f"configuration {index + 1}: {word!r} is fixed by the lab"
                raise UsageProblem(msg)
            if "\n" in word or "\0" in word:
                msg = f"configuration {index + 1}: an argument holds a newline or NUL"
                raise UsageProblem(msg)
        if not {"-M", "-machine", "--machine"} & set(group):
            group = ["-M", "virt", *group]
        if not {"-cpu", "--cpu"} & set(group):
            group = [*group, "-cpu", "host"]
        configs.append(tuple(group))
    return configs


def full_args(config: Sequence[str]) -> tuple[str, ...]:
    """Return the whole QEMU argument list for *config*."""
    return (*FIXED_ARGS, *config)


def qemu_job(configs: Sequence[Sequence[str]], *, reset: bool = False) -> str:
    """Return the job fragment that traces every configuration in turn.

    With *reset*, each QEMU also gets ``system_reset`` on a monitor pipe once
    its start-up calls are over, and the log records where that happened.
    """
    from virtmodel.machine.lab.guest import shell_quote

    lines = [_SETTLE]
    for index, config in enumerate(configs):
        words = shell_quote(full_args(config))
        lines.append(f"trace q{index} {int(reset)} {words}\n")
    return "".join(lines)


def qemu_results(
    sections: dict[str, tuple[int, list[str]]],
    configs: Sequence[Sequence[str]],
    console: str,
) -> list[QemuTrace]:
    """Return each configuration's trace from the guest's sections.

    Raises:
        LabError: A section is missing or the tracer's log is malformed.
    """
    from virtmodel.machine.lab.tracelog import parse_trace_log

    traces = []
    for index, config in enumerate(configs):
        name = f"q{index}"
        try:
            log = sections[f"{name}.log"][1]
            output = sections[f"{name}.out"][1]
            state, status, seconds = sections[f"{name}.state"][1][0].split()
            calls = parse_trace_log(log)
            reset_at = _reset_position(log)
        except (KeyError, IndexError, ValueError) as exc:
            msg = f"configuration {index + 1}: the guest's report is incomplete ({exc})"
            raise LabError(msg, console) from exc
        traces.append(
            QemuTrace(
                args=full_args(config),
                calls=tuple(calls),
                running=state == "running",
                status=int(status),
                output=tuple(output),
                reset_at=reset_at,
                seconds=int(seconds),
            )
        )
    return traces


def _reset_position(log: list[str]) -> int | None:
    """Return how many calls came before the ``# system_reset`` marker."""
    calls = 0
    for line in log:
        if line.strip() == RESET_MARKER:
            return calls
        calls += bool(line.strip()) and not line.startswith("#")
    return None


def print_traces(
    traces: Sequence[QemuTrace],
    *,
    show_all: bool = False,
    as_json: bool = False,
    raw: bool = False,
    full: bool = False,
    out: TextIO | None = None,
) -> None:
    """Print each configuration's calls in virtmodel's trace notation.

    As ``virtmodel run`` does, a run of :data:`~machine.trace.FOLD_CALLS_AT`
    or more successful calls with the same ioctl on the same fd prints as one
    counted line (the vGIC state QEMU writes at reset); ``full`` prints each.
    """
    out = out or sys.stdout
    if as_json:
        data = [
            {**asdict(t), "calls": [asdict(call) for call in t.calls]} for t in traces
        ]
        print(json.dumps(data, indent=2, sort_keys=True), file=out)
        return
    for trace in traces:
        print(f"# qemu-system-aarch64 {' '.join(trace.args)}", file=out)
        if not trace.running:
            print(f"# QEMU exited with status {trace.status}:", file=out)
            for line in trace.output[-5:]:
                print(f"#   {line}", file=out)
        vm: int | None = None
        shown = [
            (index, call)
            for index, call in enumerate(trace.calls)
            if show_all or not call.probe
        ]
        reset = trace.reset_at
        for run in _runs(shown, reset, fold=not (full or raw)):
            index, call = run[0]
            if reset is not None and index >= reset:
                print("# system_reset (monitor)", file=out)
                reset = None
            if raw:
                print(call.raw, file=out)
                continue
            if call.vm is not None and call.vm != vm:
                vm = call.vm
                print(f"# vm{vm}", file=out)
            if len(run) == 1:
                print(call, file=out)
                continue
            calls = [c for _, c in run]
            summary = calls_summary(
                call.ioctl,
                call.device,
                [c.group for c in calls],
                [c.result for c in calls],
            )
            print(f"{summary}  [{len(run)} calls]", file=out)


def _runs(
    shown: list[tuple[int, TracedCall]], reset_at: int | None, *, fold: bool
) -> list[list[tuple[int, TracedCall]]]:
    """Group the calls to print: foldable runs together, every other call alone.

    A run never crosses the monitor's reset or a change of VM, and holds only
    successful single calls (a tracer line that already counts a register
    flood stays as it is).
    """
    out: list[list[tuple[int, TracedCall]]] = []
    run: list[tuple[int, TracedCall]] = []

    def key(index: int, call: TracedCall) -> tuple[object, ...] | None:
        if not fold or call.result is None or call.count != 1:
            return None
        after_reset = reset_at is not None and index >= reset_at
        return (after_reset, call.vm, call.ioctl, call.device)

    def settle() -> None:
        if len(run) >= FOLD_CALLS_AT:
            out.append(list(run))
        else:
            out.extend([item] for item in run)
        run.clear()

    for index, call in shown:
        this = key(index, call)
        if run and this != key(*run[0]):
            settle()
        if this is None:
            out.append([(index, call)])
        else:
            run.append((index, call))
    settle()
    return out
