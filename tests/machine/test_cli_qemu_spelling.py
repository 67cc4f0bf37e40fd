"""The command line takes QEMU's spelling and nothing looser.

No option is ever abbreviated (argparse would take ``-c`` for ``-cpu`` and
``--ch`` for ``--check``); ``help`` values print their lists and exit 0; a
reader that goes away ends the run quietly.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from virtmodel.machine.cli.main import main
from virtmodel.machine.cli.parser import build_parser

SUBCOMMANDS = (
    "run",
    "dtb",
    "dts",
    "boot",
    "graph",
    "explain",
    "explore",
    "info",
    "lab",
)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "-c", "max"],
        ["run", "-cp", "max"],
        ["run", "--ch"],
        ["run", "--js"],
        ["dts", "-sm", "2"],
        ["dts", "-mach", "virt"],
        ["dts", "-m1G"],
        ["dtb", "-o", "x.dtb", "--out", "y.dtb"],
        ["explore", "--lim", "3"],
        ["graph", "--form", "dot"],
        ["boot", "--kern", "Image"],
    ],
)
def test_no_option_is_abbreviated(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_subparser_refuses_abbreviations() -> None:
    subparsers = _subparsers()
    assert set(SUBCOMMANDS) <= set(subparsers)
    for sub in subparsers.values():
        assert sub.allow_abbrev is False


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["dts", "-M", "help"], "Supported machines are:"),
        (["dts", "-M", "virt,help"], "virt-7.2-machine options:"),
        (["run", "-cpu", "help"], "Available CPUs:"),
        (["dtb", "-device", "help", "-o", "x"], "Devices virtmodel models:"),
        (["dts", "-accel", "help"], "Accelerators supported in QEMU binary:"),
    ],
)
def test_help_values_print_and_exit_0(
    argv: list[str], first_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == first_line


def test_every_option_has_a_help_line_with_its_default() -> None:
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            where = f"{name} {action.option_strings[0]}"
            assert action.help, f"{where} has no help"
            if action.required or (action.nargs == 0 and action.dest == "qemu_args"):
                continue
            # Either the text says it, or the formatter appends "(default: X)".
            shown = "default" in action.help or action.default is not argparse.SUPPRESS
            assert shown, f"{where} does not say its default"
        shown_defaults = [
            a for a in sub._actions if a.option_strings and a.dest != "help"
        ]
        if shown_defaults:
            assert "(default: " in sub.format_help()


def test_top_level_help_names_no_file_outside_the_repository(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert ".md" not in text
    assert "/work" not in text


def test_boot_takes_qemus_kernel_spelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-Image"
    for spelling in ("-kernel", "--kernel"):
        assert main(["boot", "-cpu", "max", spelling, str(missing)]) == 2
        assert "no-Image" in capsys.readouterr().err
    assert main(["boot"]) == 2
    assert "-kernel" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly() -> None:
    code = (
        "import sys; from virtmodel.machine.cli.main import main; "
        "sys.exit(main(['dts', '-smp', '512', '-M', 'virt,gic-version=3']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    # The reader goes away before the output is written, like `| head -1`
    # once head has its line (closing first makes the timing certain).
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)

    assert b"Broken pipe" not in err
    assert b"Traceback" not in err
    assert err == b""
    assert proc.returncode == 141
