"""``virtmodel lab run -- ARGS``: virtmodel itself inside the lab guest.

The guest gets Debian's arm64 Python and the wheels (:mod:`.python`),
this host's virtmodel source, and runs ``python3.11 -m virtmodel ARGS``
against its real KVM, so ``--kvm host`` works from any machine. What the
guest's virtmodel prints comes back line by line as it is printed (the
serial console carries it, framed by the lab's nonce), and its exit status
is the command's.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Final, TextIO

from virtmodel.machine.lab.guest import GuestJob, boot_guest, shell_quote
from virtmodel.machine.lab.paths import LabError, LabPaths
from virtmodel.machine.lab.python import (
    GUEST_PYTHON,
    PYTHONPATH,
    Progress,
    python_archive,
    source_archive,
)

__all__ = ["RUN_SECONDS", "guest_script", "run_in_guest"]

#: Seconds for a boot plus one virtmodel command under TCG, with room for a
#: loaded machine (Python's start and imports take most of it).
RUN_SECONDS: Final = 300.0
#: A framed output line: the boot's nonce (12 hex digits), a bar, the text.
_FRAMED: Final = re.compile(r"^[0-9a-f]{12}\|(.*)$")

_SCRIPT: Final = r"""export PYTHONPATH=@PYTHONPATH@ PYTHONUNBUFFERED=1 PYTHONUTF8=1
export PYTHONDONTWRITEBYTECODE=1 HOME=/tmp
echo "@@LAB $N BEGIN @SECTION@"
( @COMMAND@; echo $? >/tmp/run.status ) 2>&1 | tee /tmp/run.out | sed "s/^/$N|/"
echo "@@LAB $N END @SECTION@ $(cat /tmp/run.status) $(wc -l </tmp/run.out)"
"""


def guest_script(words: Sequence[str], section: str = "run") -> str:
    """Return the job fragment that runs ``python3.11 WORDS`` in *section*.

    Its output is framed as it is printed (not at the end, as the lab's
    ``section`` helper does), in the lab's format, so the host can relay it.
    """
    command = shell_quote([GUEST_PYTHON, *words])
    return (
        _SCRIPT.replace("@PYTHONPATH@", PYTHONPATH)
        .replace("@SECTION@", section)
        .replace("@COMMAND@", command)
    )


class _Relay:
    """A console that passes on the guest's framed lines as they arrive."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            match = _FRAMED.match(line.rstrip("\r"))
            if match:
                self.out.write(match.group(1) + "\n")
        self.out.flush()
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def run_in_guest(
    words: Sequence[str],
    *,
    timeout: float | None = None,
    paths: LabPaths | None = None,
    out: TextIO | None = None,
    progress: Progress | None = None,
    files: dict[str, tuple[bytes, int]] | None = None,
) -> tuple[int, list[str]]:
    """Run ``python3.11 WORDS`` in the lab guest; return its status and lines.

    The lines are also written to *out* as they come (None: not at all).
    *files* are put in the guest's /lab (name -> contents, mode).

    Raises:
        LabNotReadyError: ``virtmodel lab setup`` has not run.
        LabError: The guest failed, hung, or lost output.
    """
    paths = paths or LabPaths.default()
    archive = python_archive(paths, progress or (lambda _text: None))
    job = GuestJob(
        guest_script(words),
        files=dict(files or {}),
        archives=(archive, source_archive()),
    )
    run = boot_guest(
        job,
        timeout=timeout or RUN_SECONDS,
        paths=paths,
        console=_Relay(out) if out is not None else None,  # type: ignore[arg-type]
    )
    if "run" not in run.sections:
        msg = "the guest's virtmodel printed no framed output"
        raise LabError(msg, run.boot.console)
    return run.sections["run"]


def run_virtmodel(
    args: Sequence[str], *, timeout: float | None = None, paths: LabPaths | None = None
) -> int:
    """Run ``virtmodel ARGS`` in the guest, relaying its output; return its status.

    Raises:
        LabNotReadyError: ``virtmodel lab setup`` has not run.
        LabError: The guest failed, hung, or lost output.
    """

    def say(text: str) -> None:
        print(f"lab: {text}", file=sys.stderr, flush=True)

    status, _lines = run_in_guest(
        ["-m", "virtmodel", *args],
        timeout=timeout,
        paths=paths,
        out=sys.stdout,
        progress=say,
    )
    return status
