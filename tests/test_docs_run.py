"""Every code block in README.md and docs/*.md runs, or says why it does not.

- ``python`` blocks are executed. A block that raises must say so in a
  comment ``# ErrorType: message`` matching the error; a block starting
  ``# needs: TOOL path ...`` runs only where those exist (and fails in CI
  without them).
- ``sh`` blocks run line by line: ``NAME="..."`` sets a variable, ``virtmodel
  ...`` goes through the CLI's ``main`` and must exit 0, or the status its
  comment names (``# fails, exit 1``); ``python examples/NN.py`` runs the
  example.
- ``console`` blocks are transcripts: their output must be what
  ``docs/transcripts.py`` (``python docs/render.py``) generates today, so
  file:line references and trace numbers are never typed.
- ``text`` blocks are not code (a directory listing, a sample line).
- A block whose first line is ``# not run by the tests: <why>`` is skipped
  here, visibly to the reader too.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import runpy
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import require_file, require_tool
from virtmodel.machine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = "# not run by the tests: "
KINDS = ("python", "sh", "console", "text")


def _blocks() -> list[tuple[str, int, str, str]]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((path.relative_to(ROOT).as_posix(), line, match[1], match[2]))
    return found


BLOCKS = _blocks()
IDS = [f"{name}:{line}" for name, line, _, _ in BLOCKS]


def _transcripts() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_transcripts", ROOT / "docs" / "transcripts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_have_blocks_of_every_kind():
    kinds = {kind for _, _, kind, _ in BLOCKS}
    assert set(KINDS) <= kinds


@pytest.mark.parametrize(("name", "line", "kind", "body"), BLOCKS, ids=IDS)
def test_every_block_is_tagged_and_not_run_ones_say_why(name, line, kind, body):
    assert kind in KINDS, f"{name}:{line}: tag the block as one of {KINDS}"
    if body.startswith("# not run"):
        assert body.startswith(NOT_RUN), f"{name}:{line}: say '{NOT_RUN}<why>'"
        why = body.splitlines()[0][len(NOT_RUN) :]
        assert len(why) > 10, f"{name}:{line}: say why it is not run"


def _needs(body: str) -> None:
    first = body.splitlines()[0]
    if not first.startswith("# needs: "):
        return
    for need in first[len("# needs: ") :].split("(")[0].split():
        if "/" in need:
            require_file(ROOT / need, need)
        else:
            require_tool(need, "qemu-system-arm" if "qemu" in need else need)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "line", "body"),
    [(n, li, b) for n, li, k, b in BLOCKS if k == "python"],
    ids=[i for i, (_, _, k, _) in zip(IDS, BLOCKS, strict=True) if k == "python"],
)
def test_python_blocks_run(name, line, body, tmp_path, monkeypatch, capsys):
    if body.startswith(NOT_RUN):
        return
    _needs(body)
    # Relative paths in a snippet (probe.cpio, .assets/...) resolve as in a
    # checkout, but files it writes land in a scratch directory.
    monkeypatch.chdir(tmp_path)
    if (ROOT / ".assets").exists():
        (tmp_path / ".assets").symlink_to(ROOT / ".assets")
    code = compile(body, f"{name}:{line}", "exec")
    raised: Exception | None = None
    try:
        exec(code, {"__name__": "__docs__"})
    except Exception as error:
        raised = error
    if raised is not None:
        said = f"# {type(raised).__name__}: {raised}"
        assert said in body, f"{name}:{line} raised {raised!r} without saying so"
    else:
        assert capsys.readouterr().out, f"{name}:{line} shows nothing"


def _sh_lines(body: str) -> list[str]:
    lines, current = [], ""
    for raw in body.splitlines():
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            lines.append(current.strip())
        current = ""
    return lines


@pytest.mark.parametrize(
    ("name", "line", "body"),
    [(n, li, b) for n, li, k, b in BLOCKS if k == "sh"],
    ids=[i for i, (_, _, k, _) in zip(IDS, BLOCKS, strict=True) if k == "sh"],
)
def test_sh_blocks_run(name, line, body, capsys, monkeypatch):
    if body.startswith(NOT_RUN):
        return
    monkeypatch.chdir(ROOT)
    variables: dict[str, str] = {}
    ran = 0
    for command in _sh_lines(body):
        expected = re.search(r"#.*\bexit (\d+)", command)
        words = shlex.split(command, comments=True)
        if not words:
            continue
        if len(words) == 1 and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            key, _, value = words[0].partition("=")
            variables[key] = value
            continue
        expanded = shlex.split(
            re.sub(r"\$(\w+)", lambda m: variables[m[1]], command), comments=True
        )
        if expanded[0] == "virtmodel":
            status = main(expanded[1:])
        elif expanded[0] == "python" and expanded[1].startswith("examples/"):
            monkeypatch.setattr(sys, "argv", [expanded[1]])
            runpy.run_path(str(ROOT / expanded[1]), run_name="__main__")
            status = 0
        else:
            pytest.fail(f"{name}:{line}: cannot run {command!r}; mark the block")
        capsys.readouterr()
        assert status == int(expected[1] if expected else 0), (
            f"{name}:{line}: {command}"
        )
        ran += 1
    assert ran, f"{name}:{line}: nothing ran"


@pytest.mark.slow
@pytest.mark.parametrize("document", _transcripts().FILES)
def test_console_transcripts_are_what_the_commands_print_today(document):
    transcripts = _transcripts()
    text = (ROOT / document).read_text()
    fresh = transcripts.refresh(text)
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True), fresh.splitlines(keepends=True), document
        )
    )
    assert fresh == text, f"run: python docs/render.py\n{diff}"


def test_transcript_commands_are_the_ones_a_reader_can_type():
    transcripts = _transcripts()
    for _, _, kind, body in BLOCKS:
        if kind == "console":
            for command in transcripts.commands(body):
                first = command.split()[0]
                assert first in ("virtmodel", "python"), command
                assert os.sep not in first
