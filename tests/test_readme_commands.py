"""The README's two quick-start commands are the ones CI runs.

``.ci/run`` is what CI executes on a clean clone; it must hold the README's
two command lines word for word, so the quick start cannot drift from what
is tested.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands(readme: str) -> list[str]:
    """Return the command lines of the README's quick-start block."""
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_the_quick_start_has_two_commands_a_main_job_and_the_tests() -> None:
    commands = quick_start_commands((ROOT / "README.md").read_text())

    assert len(commands) == 2
    assert " virtmodel run " in commands[0].replace(".venv/bin/", " ")
    assert commands[1] == "bash .ci/setup && bash .ci/check"


def test_ci_runs_the_readme_commands_word_for_word() -> None:
    commands = quick_start_commands((ROOT / "README.md").read_text())
    ci = (ROOT / ".ci" / "run").read_text().splitlines()

    for command in commands:
        assert command in ci, command
