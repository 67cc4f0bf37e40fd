"""Ask a live ``qemu-system-aarch64`` HMP monitor commands (``info mtree``).

QEMU is started stopped (``-S``) with the monitor on standard input; the
commands and ``quit`` are sent at once and each answer is cut out between the
prompts. Test support only: the runtime never starts QEMU for this.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence

PROMPT = "(qemu) "
_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def monitor(qemu: str, argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """Return QEMU's answer to each of *commands* for a machine built by *argv*.

    Raises:
        RuntimeError: QEMU refused the options or did not answer every command.
    """
    text = "".join(f"{c}\n" for c in (*commands, "quit"))
    run = subprocess.run(
        [qemu, *argv, "-S", "-nographic", "-nodefaults", "-monitor", "stdio"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = run.stdout.replace("\r", "")
    parts = out.split(PROMPT)
    if run.returncode != 0 or len(parts) < len(commands) + 2:
        msg = f"QEMU {list(argv)} failed: {run.stderr.strip() or out[-400:]}"
        raise RuntimeError(msg)
    answers = []
    for part in parts[1 : len(commands) + 1]:
        # The first line is the echoed command, drawn with terminal escapes.
        answers.append(_ESCAPES.sub("", part).split("\n", 1)[1])
    return answers


def _qtree_devices(text: str) -> list[tuple[str, list[str]]]:
    """Split ``info qtree`` into (structure line, lines under it) in order."""
    items: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        body = line.strip()
        if body.startswith(("bus: ", "dev: ")) or (
            body.startswith("type ") and "=" not in body
        ):
            items.append((line, []))
        elif items:
            items[-1][1].append(line)
    return items


def qtree_mismatch(ours: str, theirs: str) -> str | None:
    """Return why *ours* is not QEMU's qtree with a subset of its properties.

    The bus and device lines (with their indentation) must be QEMU's, in
    QEMU's order; under each, our lines must appear in QEMU's lines in order.
    """
    mine, qemu = _qtree_devices(ours), _qtree_devices(theirs)
    heads = [head for head, _ in mine]
    if heads != [head for head, _ in qemu]:
        import difflib

        diff = difflib.unified_diff(
            [h for h, _ in qemu], heads, "qemu", "ours", lineterm=""
        )
        return "structure differs:\n" + "\n".join(list(diff)[:30])
    for (head, lines), (_, their_lines) in zip(mine, qemu, strict=True):
        rest = iter(their_lines)
        for line in lines:
            if not any(line == other for other in rest):
                return f"{head.strip()}: {line.strip()!r} is not among QEMU's lines {their_lines}"
    return None
