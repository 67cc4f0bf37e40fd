"""What installing virtmodel puts on a machine: one import name, and the licence.

PyPI has packages called ``notifiers`` and ``machine``; a distribution that
installed our folders under those names would overwrite them (or be
overwritten). These tests build the real wheel and sdist and read them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import virtmodel

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        # No --sdist/--wheel: the wheel is built from the sdist, as a user
        # installing the sdist would, and nothing is written into the checkout.
        [sys.executable, "-m", "build", "--outdir", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return out


def test_the_wheel_installs_one_top_level_name_and_the_licence(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()

    top = {name.split("/")[0] for name in names}
    assert top == {"virtmodel", f"virtmodel-{virtmodel.__version__}.dist-info"}
    assert {"virtmodel/machine/cli/main.py", "virtmodel/devices/its.py"} <= set(names)
    assert "virtmodel/notifiers/registry.py" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    # The classroom page ships with the package (virtmodel serve works offline).
    assert {
        "virtmodel/machine/serve/static/index.html",
        "virtmodel/machine/serve/static/app.js",
    } <= set(names)


def test_the_wheel_declares_the_spdx_licence(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")

    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = zf.read(meta).decode()

    assert "License-Expression: MIT" in metadata.splitlines()


def test_the_sdist_holds_tests_goldens_docs_examples_and_licence(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")

    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}

    assert {
        "LICENSE",
        "tests/golden/virt.dts",
        "tests/corpus/cli.json",
        "docs/ordering.md",
        "examples/01_notifier_ordering.py",
        ".pkg/virtmodel/__init__.py",
    } <= names


def _neutral(args: list[str]) -> subprocess.CompletedProcess[str]:
    # Outside the checkout, so that the folders at its root are not on sys.path.
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run(
        args, cwd="/", env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("name", ["machine", "devices", "notifiers"])
def test_the_bare_folder_names_are_not_importable(name: str) -> None:
    proc = _neutral([sys.executable, "-c", f"import {name}"])

    assert proc.returncode == 1
    assert f"No module named '{name}'" in proc.stderr


def test_python_dash_m_virtmodel_prints_the_version() -> None:
    proc = _neutral([sys.executable, "-m", "virtmodel", "--version"])

    assert proc.returncode == 0
    assert proc.stdout == f"virtmodel {virtmodel.__version__}\n"


def test_the_console_script_prints_the_version() -> None:
    script = Path(sys.executable).parent / "virtmodel"

    proc = _neutral([str(script), "--version"])

    assert proc.stdout == f"virtmodel {virtmodel.__version__}\n"
