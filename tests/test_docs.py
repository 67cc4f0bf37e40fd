"""The pictures in docs/ are what docs/render.py draws from today's machine."""

import importlib.util
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_render():
    spec = importlib.util.spec_from_file_location("docs_render", DOCS / "render.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_graphs_match_the_machine(tmp_path, monkeypatch):
    render = load_render()
    for name in render.PICTURES:
        shutil.copy(DOCS / f"{name}.dot", tmp_path / f"{name}.dot")
    monkeypatch.setattr(render, "DOCS", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # DOT text only

    render.render()

    for name in render.PICTURES:
        assert (tmp_path / f"{name}.dot").read_text() == (
            DOCS / f"{name}.dot"
        ).read_text(), name
        assert (DOCS / f"{name}.svg").exists(), name


def test_missing_edge_picture_lacks_exactly_the_its_edge():
    declared = (DOCS / "init-done-ordered.dot").read_text()
    missing = (DOCS / "init-done-missing-edge.dot").read_text()

    assert '"kvm-set-addr:its" -> "its-ctrl-init"' in declared
    assert '"kvm-set-addr:its" -> "its-ctrl-init"' not in missing
