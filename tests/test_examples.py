"""Run every ``examples/*.py`` as a user would: ``python examples/NN_topic.py``.

The list is taken from the directory when tests are collected, so examples
added later are picked up without touching this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples_to_run() -> None:
    assert [p.name for p in EXAMPLES if p.name.startswith(("01_", "02_"))] == [
        "01_notifier_ordering.py",
        "02_qemu_list_vs_registry.py",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_cleanly(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{path.name} printed nothing"


def test_example_01_prints_the_sorted_order_and_the_cycle() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "01_notifier_ordering.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    lines = result.stdout.splitlines()
    assert lines[0] == "['gic', 'clocks', 'uart']"
    assert "cycle: ['clocks-late', 'clocks', 'uart', 'clocks-late']" in lines


def test_example_02_shows_the_list_failing_and_the_registry_succeeding() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "02_qemu_list_vs_registry.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    lines = result.stdout.splitlines()
    assert lines[0] == "QEMU list runs: ['its-ctrl-init', 'kvm-set-addr:its']"
    assert lines[1].startswith("QEMU list failed: ITS CTRL_INIT needs its base address")
    assert lines[2] == "registry runs: ['kvm-set-addr:its', 'its-ctrl-init']"
    assert lines[3] == "ITS ready at 0x08080000"
