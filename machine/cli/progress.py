"""Progress on stderr for commands that may take more than a second.

A :class:`Progress` line (``explore: 12/48 classes, 3.2 s``) is drawn only
when stderr is a terminal and the command was not asked for ``--json``, so
pipes, files and scripts see nothing; it appears once the work has taken
longer than :data:`QUIET_FOR`, redraws at most :data:`EVERY` seconds apart,
and is wiped when the work ends.
"""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

#: Seconds of work before the first line: quick commands stay silent.
QUIET_FOR: Final = 0.5

#: Least seconds between two redraws.
EVERY: Final = 0.1


class Progress:
    """One redrawn status line for one piece of work, on a terminal only.

    Use as a context manager; :meth:`__call__` takes ``(done, total)`` as
    ``notifiers.explore``'s ``progress=`` gives it.
    """

    def __init__(
        self,
        what: str,
        unit: str,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._on = not quiet and self._stream.isatty()
        self._what = what
        self._unit = unit
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()

    def clear(self) -> None:
        """Wipe the line, if one is drawn (before other output, and at the end)."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False

    def __call__(self, done: float, total: float | None = None) -> None:
        """Redraw the line for *done* of *total* (None: unknown) if it is time."""
        if not self._on:
            return
        now = time.monotonic()
        elapsed = now - self._start
        if elapsed < QUIET_FOR or now - self._last < EVERY:
            return
        self._last = now
        count = f"{done:g}/{total:g}" if total is not None else f"{done:g}"
        line = f"{self._what}: {count} {self._unit}, {elapsed:.1f} s"
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()
        self._drawn = True


class ClearingStream:
    """A text stream that wipes a progress line before each write to it.

    For output that shares the terminal with the line, e.g. a guest's
    console while ``boot`` shows how long it has been waiting.
    """

    def __init__(self, stream: TextIO, progress: Progress) -> None:
        self._stream = stream
        self._progress = progress

    def write(self, text: str) -> int:
        """Clear the progress line, then write *text*."""
        self._progress.clear()
        return self._stream.write(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self._stream.flush()
