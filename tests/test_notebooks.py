"""Every notebook in examples/notebooks/ runs top to bottom without an error.

Each is executed in a fresh Jupyter kernel (nbclient + ipykernel, from the test
extra), cells in order, as a teacher would with "Run all"; any exception in a
cell fails the test with the cell that raised it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import in_ci

if importlib.util.find_spec("nbclient") is None:  # pragma: no cover - setup issue
    if in_ci():
        pytest.fail("CI=true but nbclient is not installed (the test extra has it)")
    pytest.skip(
        "nbclient is not installed (pip install -e '.[test]')", allow_module_level=True
    )

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


def test_there_are_notebooks():
    assert [path.name for path in NOTEBOOKS] == ["the-2016-its-story.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    assert all(
        not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"
    ), f"{path.name} is committed with outputs; clear them"
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell on any error

    rich = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "execute_result"
    ]
    kinds = {kind for output in rich for kind in output["data"]}
    # The lesson shows pictures and tables, not <Trace ...> reprs.
    assert {"image/svg+xml", "text/html"} <= kinds
