"""Console transcripts in the docs, regenerated from the commands they show.

A fenced block tagged ``console`` holds one or more commands, each a line
starting with ``$ `` (continued with a trailing backslash), followed by the
output. :func:`refresh` runs each command and puts its real output under it,
so file:line references and trace numbers in the docs are generated, never
typed. A command is ``virtmodel ...`` (run through the CLI's ``main``) or
``python examples/NN.py``; it may end in ``2>&1`` (show stderr after stdout)
and in ``| head -n N``, ``| tail -n N`` or ``| grep [-E] [-A N] PATTERN``,
which work the same in a real shell.
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from virtmodel.machine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
#: The Markdown files whose console blocks are transcripts: all of the docs.
FILES = (
    "README.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
)
_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.MULTILINE | re.DOTALL)


class TranscriptError(Exception):
    """A console block holds a command this runner cannot run."""


def run_command(command: str) -> tuple[int, str]:
    """Run one transcript command; return its exit status and shown output.

    Raises:
        TranscriptError: The command is not one a transcript may show.
    """
    stages = [stage.strip() for stage in command.split(" | ")]
    argv = shlex.split(stages[0])
    merge = bool(argv) and argv[-1] == "2>&1"
    if merge:
        argv.pop()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = _run(argv, command)
    text = out.getvalue() + (err.getvalue() if merge else "")
    lines = text.splitlines()
    for stage in stages[1:]:
        lines = _filter(shlex.split(stage), command)(lines)
    return status, "\n".join(lines)


def _run(argv: list[str], command: str) -> int:
    if argv[:1] == ["virtmodel"]:
        return main(argv[1:])
    if len(argv) == 2 and argv[0] == "python" and argv[1].startswith("examples/"):
        saved = sys.argv
        sys.argv = [argv[1]]
        try:
            runpy.run_path(str(ROOT / argv[1]), run_name="__main__")
        finally:
            sys.argv = saved
        return 0
    msg = f"transcript command {command!r}: only virtmodel and examples run"
    raise TranscriptError(msg)


def _filter(argv: list[str], command: str) -> Callable[[list[str]], list[str]]:
    if len(argv) == 3 and argv[0] in ("head", "tail") and argv[1] == "-n":
        count = int(argv[2])
        if argv[0] == "head":
            return lambda lines: lines[:count]
        return lambda lines: lines[-count:]
    if argv[:1] == ["grep"] and len(argv) >= 2:
        options, after = argv[1:-1], 0
        if options[:1] == ["-E"]:
            options = options[1:]  # Python's patterns are extended ones
        if len(options) == 2 and options[0] == "-A" and options[1].isdigit():
            options, after = [], int(options[1])
        if not options:
            pattern = re.compile(argv[-1])
            return lambda lines: _grep(lines, pattern, after)
    msg = f"transcript command {command!r}: unknown filter {' '.join(argv)!r}"
    raise TranscriptError(msg)


def _grep(lines: list[str], pattern: re.Pattern[str], after: int) -> list[str]:
    keep: set[int] = set()
    for index, line in enumerate(lines):
        if pattern.search(line):
            keep.update(range(index, min(index + after + 1, len(lines))))
    return [lines[i] for i in sorted(keep)]


def commands(block: str) -> list[str]:
    """Return the commands of a console block, continuations joined."""
    found: list[str] = []
    current: str | None = None
    for line in block.splitlines():
        if current is not None:
            current += " " + line.strip()
        elif line.startswith("$ "):
            current = line[2:].strip()
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        found.append(current)
        current = None
    return found


def _refresh_block(block: str) -> str:
    out: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.startswith("$ "):
            continue  # the old output, replaced by the new one
        typed = [line]
        while typed[-1].endswith("\\"):
            typed.append(next(lines))
        out += typed
        (command,) = commands("\n".join(typed))
        _, shown = run_command(command)
        if shown:
            out.append(shown)
    return "\n".join(out) + "\n"


def refresh(text: str) -> str:
    """Return *text* with every console block's output regenerated."""
    return _BLOCK.sub(lambda m: "```console\n" + _refresh_block(m[1]) + "```", text)


def refresh_files(root: Path = ROOT, *, write: bool = True) -> list[str]:
    """Regenerate the transcripts of :data:`FILES`; return the files that changed."""
    changed = []
    for name in FILES:
        path = root / name
        old = path.read_text()
        new = refresh(old)
        if new != old:
            changed.append(name)
            if write:
                path.write_text(new)
    return changed
