"""Run QEMU as a child with a streamed console, a deadline and a clean kill.

Invariant: the child starts in a new session (so it leads its own process
group), and that whole group is signalled before :func:`run_console` returns or
raises, whatever happened: exit, timeout, an expected line, or an exception in
the caller's console stream. Nothing QEMU started is left running.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Final, TextIO

__all__ = ["BootResult", "run_console"]

#: How long a SIGTERM'd QEMU gets to exit before the group is SIGKILL'd.
_TERM_GRACE: Final = 1.0

#: What Linux prints when it panics; nothing useful runs after it.
PANIC: Final = "Kernel panic - not syncing"

#: How long a panic line may stay without its newline before it is taken.
_PANIC_LINE_GRACE: Final = 0.5


@dataclass(frozen=True, slots=True)
class BootResult:
    """How a boot ended: QEMU's exit status, the console text and the reason."""

    #: QEMU's exit status, or None when the boot was stopped from outside.
    exit_status: int | None
    #: Everything the guest printed on the serial console (``\\r`` removed).
    console: str
    #: QEMU's own messages (its stderr).
    stderr: str
    #: The guest did not finish before the timeout.
    timed_out: bool
    #: One line: why the boot ended.
    reason: str
    #: The full QEMU command line that ran.
    command: tuple[str, ...]
    #: QEMU's process id, which was also its process-group id.
    pid: int
    #: The console text the boot waited for, if any.
    expect: str | None = None
    #: The ``expect`` text appeared on the console.
    matched: bool = False
    #: The guest's "Kernel panic - not syncing: ..." line, if it panicked.
    panic: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the guest finished as asked: printed ``expect``, or powered off."""
        if self.panic is not None:
            return False
        if self.expect is not None:
            return self.matched
        return not self.timed_out and self.exit_status == 0


def _kill_group(pgid: int, sig: int) -> None:
    # The group outlives its leader while any member is alive, so this also
    # reaches whatever QEMU (or a wrapper script) spawned.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        _kill_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_TERM_GRACE)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)
            process.wait()
    _kill_group(process.pid, signal.SIGKILL)


class _Console:
    """Decodes console bytes, forwards them, and watches for the expected text."""

    def __init__(self, stream: TextIO | None, expect: str | None) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stream = stream
        self._expect = expect
        self._carry = ""
        self._line = ""
        self.parts: list[str] = []
        self.matched = False
        #: The whole panic line, once the guest has printed it.
        self.panic: str | None = None

    def feed(self, chunk: bytes) -> None:
        text = self._decoder.decode(chunk).replace("\r", "")
        self.parts.append(text)
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()
        if self._expect:
            # Only the tail can complete a match that straddles two chunks.
            window = self._carry + text
            self.matched = self.matched or self._expect in window
            self._carry = window[max(0, len(window) - len(self._expect) + 1) :]
        if self.panic is None:
            *lines, self._line = (self._line + text).split("\n")
            self.panic = next((ln.strip() for ln in lines if PANIC in ln), None)

    def partial_panic(self) -> str | None:
        """Return the panic line printed so far without its newline, if any."""
        return self._line.strip() if PANIC in self._line else None


def _reason(
    status: int | None,
    timeout: float,
    expect: str | None,
    *,
    matched: bool,
    panic: str | None = None,
) -> str:
    if panic is not None:
        return f"guest panicked: {panic}; qemu was stopped"
    if status is None and not matched:
        return f"guest did not finish within {timeout:g} s; qemu was stopped"
    if matched:
        return f"console showed {expect!r}; qemu was stopped"
    if expect is not None and status == 0:
        return f"qemu exited before the console showed {expect!r}"
    if status == 0:
        return "guest powered off (qemu exited with status 0)"
    return f"qemu exited with status {status}"


def run_console(
    command: list[str],
    *,
    timeout: float,
    console: TextIO | None = None,
    expect: str | None = None,
    tick: Callable[[float], object] | None = None,
) -> BootResult:
    """Run *command*, streaming its stdout to *console*, until it ends.

    It ends when the program exits, when *expect* appears in its output, when
    the guest panics ("Kernel panic - not syncing", the line is kept in
    ``panic``), or after *timeout* seconds; in the last three cases its
    process group is stopped (SIGTERM, then SIGKILL). Exceptions from
    *console* propagate after the group is killed. *tick*, if given, is
    told the seconds elapsed at least four times a second while it runs.

    Raises:
        OSError: *command* cannot be started.
    """
    started = time.monotonic()
    deadline = started + timeout
    watcher = _Console(console, expect)
    err = bytearray()
    timed_out = False
    panic_seen: float | None = None
    # stdin is /dev/null so QEMU never switches the user's terminal to raw
    # mode, which a killed QEMU could not undo.
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            streams: tuple[IO[bytes] | None, ...] = (process.stdout, process.stderr)
            for stream in streams:
                assert stream is not None
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map() and not watcher.matched and not watcher.panic:
                if (partial := watcher.partial_panic()) is not None:
                    # A panic line without its newline yet: take it soon anyway.
                    panic_seen = panic_seen or time.monotonic()
                    if time.monotonic() - panic_seen > _PANIC_LINE_GRACE:
                        watcher.panic = partial
                        break
                if tick is not None:
                    tick(time.monotonic() - started)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(min(remaining, 0.25)):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is process.stderr:
                        err += chunk
                    else:
                        watcher.feed(chunk)
                if process.poll() is not None:
                    # Stragglers holding the pipes open would keep reads from
                    # reaching EOF; the leader is gone, so end them too.
                    _kill_group(process.pid, signal.SIGKILL)
    finally:
        _stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    stopped = watcher.matched or timed_out or watcher.panic is not None
    status = None if stopped else process.returncode
    return BootResult(
        exit_status=status,
        console="".join(watcher.parts),
        stderr=err.decode(errors="replace"),
        timed_out=timed_out,
        reason=_reason(
            status, timeout, expect, matched=watcher.matched, panic=watcher.panic
        ),
        command=tuple(command),
        pid=process.pid,
        expect=expect,
        matched=watcher.matched,
        panic=watcher.panic,
    )
