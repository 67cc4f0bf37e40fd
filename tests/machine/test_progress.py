from __future__ import annotations

import io

import pytest

from virtmodel.machine.cli import progress as progress_module
from virtmodel.machine.cli.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def at_once(monkeypatch):
    monkeypatch.setattr(progress_module, "QUIET_FOR", 0.0)
    monkeypatch.setattr(progress_module, "EVERY", 0.0)


def test_a_terminal_sees_done_of_total_and_elapsed_then_a_clean_line(at_once):
    stream = Terminal()

    with Progress("explore", "classes", stream=stream) as progress:
        progress(3, 48)
        progress(4)

    text = stream.getvalue()
    assert "\rexplore: 3/48 classes, " in text.replace("\x1b[K", "")
    assert "explore: 4 classes, " in text
    assert text.endswith("\r\x1b[K")


def test_pipes_and_json_stay_quiet(at_once):
    pipe = io.StringIO()
    terminal = Terminal()

    with Progress("explore", "classes", stream=pipe) as progress:
        progress(1, 2)
    with Progress("explore", "classes", quiet=True, stream=terminal) as progress:
        progress(1, 2)

    assert pipe.getvalue() == terminal.getvalue() == ""


def test_quick_work_draws_nothing():
    stream = Terminal()

    with Progress("boot", "s", stream=stream) as progress:
        progress(1, 2)

    assert stream.getvalue() == ""


def test_output_sharing_the_terminal_wipes_the_line_first(at_once):
    from virtmodel.machine.cli.progress import ClearingStream

    terminal = Terminal()
    console = io.StringIO()
    progress = Progress("boot: guest running", "s", stream=terminal)
    shared = ClearingStream(console, progress)

    progress(3, 60)
    shared.write("Booting Linux\n")
    shared.flush()
    progress.clear()  # nothing drawn since: nothing to wipe

    assert terminal.getvalue().startswith("\r\x1b[Kboot: guest running: 3/60 s, ")
    assert terminal.getvalue().endswith("\r\x1b[K")
    assert terminal.getvalue().count("\r\x1b[K") == 2
    assert console.getvalue() == "Booting Linux\n"
