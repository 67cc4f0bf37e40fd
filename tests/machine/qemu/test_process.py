"""The QEMU runner, driven by small shell scripts standing in for QEMU."""

from __future__ import annotations

import io
import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from virtmodel.machine.qemu.process import BootResult, run_console


def live_group_members(pgid: int, *, settle: float = 5.0) -> list[int]:
    """Return the pids in process group *pgid* that are still alive.

    SIGKILL is delivered asynchronously, so a killed process may be seen for a
    moment; this waits up to *settle* seconds for the group to empty.
    """
    deadline = time.monotonic() + settle
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "fake-qemu"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return [str(path)]


def test_exit_status_console_and_stderr_are_reported_with_carriage_returns_removed(
    tmp_path: Path,
) -> None:
    command = script(
        tmp_path, "printf 'Booting\\r\\nVM up\\r\\n'\necho 'warning: x' >&2\n"
    )

    result = run_console(command, timeout=10)

    assert result.exit_status == 0
    assert result.console == "Booting\nVM up\n"
    assert result.stderr == "warning: x\n"
    assert (result.timed_out, result.matched, result.ok) == (False, False, True)
    assert result.reason == "guest powered off (qemu exited with status 0)"
    assert result.command == tuple(command)


def test_console_streams_to_the_given_text_stream(tmp_path: Path) -> None:
    sink = io.StringIO()

    result = run_console(
        script(tmp_path, "echo one\necho two\n"), timeout=10, console=sink
    )

    assert sink.getvalue() == "one\ntwo\n"
    assert result.console == sink.getvalue()


def test_non_zero_exit_is_reported_not_raised(tmp_path: Path) -> None:
    result = run_console(
        script(tmp_path, "echo 'bad option' >&2\nexit 3\n"), timeout=10
    )

    assert result.exit_status == 3
    assert result.ok is False
    assert result.reason == "qemu exited with status 3"


def test_hang_times_out_and_kills_the_whole_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    command = script(
        tmp_path, f"sleep 300 &\necho $! > {child}\necho booting\nsleep 300\n"
    )

    started = time.monotonic()
    result = run_console(command, timeout=1.0)
    elapsed = time.monotonic() - started

    assert result.timed_out is True
    assert result.exit_status is None
    assert result.ok is False
    assert result.reason == "guest did not finish within 1 s; qemu was stopped"
    assert result.console == "booting\n"
    assert elapsed < 10
    assert live_group_members(result.pid) == []
    assert int(child.read_text()) not in live_group_members(result.pid)


def test_expected_text_stops_the_guest_early_even_across_chunks(tmp_path: Path) -> None:
    body = "printf 'VM-RE'\nsleep 0.3\nprintf 'ADY\\n'\nsleep 300\n"

    result = run_console(script(tmp_path, body), timeout=30, expect="VM-READY")

    assert result.matched is True
    assert result.ok is True
    assert result.exit_status is None
    assert result.timed_out is False
    assert result.reason == "console showed 'VM-READY'; qemu was stopped"
    assert live_group_members(result.pid) == []


def test_exit_without_the_expected_text_is_not_ok(tmp_path: Path) -> None:
    result = run_console(script(tmp_path, "echo done\n"), timeout=10, expect="never")

    assert result.exit_status == 0
    assert result.ok is False
    assert result.reason == "qemu exited before the console showed 'never'"


def test_program_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    body = "trap '' TERM\necho up\nwhile :; do sleep 1; done\n"

    result = run_console(script(tmp_path, body), timeout=0.5)

    assert result.timed_out is True
    assert live_group_members(result.pid) == []


def test_group_is_killed_when_the_console_stream_raises(tmp_path: Path) -> None:
    pid_file = tmp_path / "qemu.pid"

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise RuntimeError("console is gone")

    command = script(
        tmp_path, f"echo $$ > {pid_file}\nsleep 300 &\necho hi\nsleep 300\n"
    )

    with pytest.raises(RuntimeError, match="console is gone"):
        run_console(command, timeout=30, console=Broken())

    assert live_group_members(int(pid_file.read_text())) == []


def test_stragglers_holding_the_console_open_do_not_stall_a_clean_exit(
    tmp_path: Path,
) -> None:
    # The leader exits at once; its background child keeps stdout open.
    body = "echo bye\nsleep 300 &\nexit 0\n"

    started = time.monotonic()
    result = run_console(script(tmp_path, body), timeout=30)

    assert result.exit_status == 0
    assert result.console == "bye\n"
    assert time.monotonic() - started < 10
    assert live_group_members(result.pid) == []


def test_ok_follows_expect_when_one_was_given() -> None:
    base = BootResult(
        exit_status=0, console="", stderr="", timed_out=False, reason="r",
        command=("q",), pid=os.getpid(),
    )  # fmt: skip

    assert base.ok is True
    assert replace(base, expect="x").ok is False
    assert replace(base, expect="x", matched=True).ok is True
    assert replace(base, timed_out=True, exit_status=None).ok is False


def test_a_guest_panic_ends_the_boot_at_once_with_the_panic_line(
    tmp_path: Path,
) -> None:
    command = script(
        tmp_path,
        "echo 'Booting Linux'\n"
        "printf 'Kernel panic - not syncing: VFS: Unable to mount root fs\\r\\n'\n"
        "echo 'CPU: 0 PID: 1'\nsleep 30\n",
    )
    start = time.monotonic()

    result = run_console(command, timeout=20)

    assert time.monotonic() - start < 10
    assert result.panic == "Kernel panic - not syncing: VFS: Unable to mount root fs"
    assert not result.ok
    assert not result.timed_out
    assert result.exit_status is None
    assert result.reason.startswith("guest panicked: Kernel panic - not syncing: VFS")
    assert live_group_members(result.pid) == []


def test_a_panic_line_cut_off_before_its_newline_is_taken_as_printed(
    tmp_path: Path,
) -> None:
    command = script(
        tmp_path,
        "printf 'Kernel panic - not syncing: Attempted to kill init'\nsleep 30\n",
    )

    result = run_console(command, timeout=20)

    assert result.panic == "Kernel panic - not syncing: Attempted to kill init"
    assert not result.timed_out


def test_tick_hears_the_elapsed_time_while_the_guest_runs(tmp_path: Path) -> None:
    command = script(tmp_path, "sleep 1\necho done\n")
    heard: list[float] = []

    result = run_console(command, timeout=10, tick=heard.append)

    assert result.exit_status == 0
    assert len(heard) >= 2
    assert heard == sorted(heard)
    assert 0 <= heard[0] < heard[-1] < 10
