"""Jupyter display of the notifiers package: SVG graphs and HTML tables."""

import shutil
import xml.etree.ElementTree as ET

import pytest

from virtmodel.notifiers import NotifierFailedError, NotifierRegistry, explore
from virtmodel.notifiers.svg import graph_svg, plan_svg

SVG = "{http://www.w3.org/2000/svg}"


def _registry():
    registry = NotifierRegistry[dict[str, int]]("init-done")
    registry.add("addr", lambda k: k.update(addr=0x0808_0000), writes="its.addr")
    registry.add("init", lambda k: k["addr"], after="addr", reads="its.addr")
    registry.add("other", lambda k: None, after_optional=("addr", "gone"))
    return registry


def _nodes(svg):
    root = ET.fromstring(svg)
    return {
        g.get("data-name"): (g.findtext(f"{SVG}text"), g.get("data-status"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def _edges(svg):
    root = ET.fromstring(svg)
    return {
        (g.get("data-source"), g.get("data-target")): g.get("class")
        for g in root.iter(f"{SVG}g")
        if (g.get("class") or "").startswith("edge")
    }


def test_the_registry_shows_as_an_svg_graph_numbered_in_run_order():
    bundle = _registry()._repr_mimebundle_()
    svg = bundle["image/svg+xml"]
    assert _nodes(svg) == {
        "addr": ("1. addr", None),
        "init": ("2. init", None),
        "other": ("3. other", None),
    }
    assert _edges(svg) == {("addr", "init"): "edge", ("addr", "other"): "edge"}
    assert 'stroke-dasharray="5,4"' in svg  # the optional edge
    assert bundle["text/plain"].endswith(": addr, init, other")


def test_an_imposed_order_renumbers_and_marks_the_broken_edge():
    svg = _registry().to_svg(
        order=["other", "init", "addr"], status={"other": "ran", "init": "failed"}
    )
    nodes = _nodes(svg)
    assert nodes["other"] == ("1. other", "ran")
    assert nodes["init"] == ("2. init", "failed")
    assert nodes["addr"] == ("3. addr", None)
    assert _edges(svg)[("addr", "init")] == "edge violated"
    assert "init (violated)" in svg


def test_the_drawing_is_the_same_every_time_and_escapes_names():
    registry = NotifierRegistry[None]("e<&>")
    registry.add("a<b>", lambda _: None)
    registry.add("c&d", lambda _: None, after="a<b>")
    first = registry.to_svg()
    assert first == registry.to_svg()
    ET.fromstring(first)  # well-formed despite the names
    assert "a&lt;b&gt;" in first


def test_an_empty_registry_still_draws():
    ET.fromstring(NotifierRegistry[None]("empty").to_svg())


def test_a_registry_that_cannot_be_ordered_says_why():
    registry = NotifierRegistry[None]("loop")
    registry.add("a", lambda _: None, after="b")
    registry.add("b", lambda _: None)
    registry.add("c", lambda _: None, after="nowhere")
    bundle = registry._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "cannot order" in bundle["text/html"]
    assert "'nowhere'" in bundle["text/plain"]


def test_graphviz_is_used_when_asked_and_present_else_the_builtin_drawing(monkeypatch):
    plan = _registry()._current_plan()
    assert graph_svg(plan) == plan_svg(plan)  # not asked: pure Python
    if shutil.which("dot"):
        drawn = graph_svg(plan, graphviz=True)
        assert drawn.startswith("<svg")
        assert drawn != plan_svg(plan)
    assert _registry().to_svg(graphviz=True) == graph_svg(plan, graphviz=True)
    monkeypatch.setattr(shutil, "which", lambda _: "/bin/false")  # dot fails
    assert graph_svg(plan, graphviz=True) == plan_svg(plan)
    monkeypatch.setattr(shutil, "which", lambda _: None)  # no dot at all
    assert graph_svg(plan, graphviz=True) == plan_svg(plan)


def test_a_trace_is_an_html_table_with_the_failure_highlighted():
    registry = _registry()
    registry.remove("addr")
    registry.add("addr", lambda k: None, writes="its.addr")  # forgets the write
    with pytest.raises(NotifierFailedError) as info:
        registry.notify({})
    html = info.value.trace._repr_html_()
    assert "<table" in html
    assert "background:#fbd5d5" in html  # the failed row
    assert "KeyError" in html
    assert "dropped optional edges" in html  # other's after_optional='gone'
    assert "not-run" in html


def test_an_explanation_and_a_hazard_render_as_html():
    registry = _registry()
    answer = registry.explain("addr", "init", order=["init", "addr", "other"])
    html = answer._repr_html_()
    assert "color:#c00" in html  # broken by the order that runs
    assert "<li><code>" in html
    ordered = registry.explain("addr", "other")._repr_html_()
    assert "color:#222" in ordered
    (hazard,) = registry.hazards(order=["init", "addr", "other"])
    assert "runs-before-write" in hazard._repr_html_()
    from virtmodel.notifiers.display import hazards_html

    assert "none" in hazards_html([])


def _phase(fixed):
    kernel: dict[str, int] = {}
    registry = NotifierRegistry[dict[str, int]]("init-done")

    def init(k):
        if "addr" not in k:
            raise OSError(6, "no address")

    registry.add("init", init, after="addr" if fixed else ())
    registry.add("addr", lambda k: k.update(addr=0x0808_0000))
    return registry, (kernel,)


def test_an_exploration_renders_its_outcomes_and_the_fix():
    broken = explore(lambda: _phase(False), check=lambda k: sorted(k))._repr_html_()
    assert "the order matters" in broken
    assert "culprit 1: <b>addr</b> and <b>init</b>" in broken
    assert "after=&#x27;addr&#x27;" in broken
    fixed = explore(lambda: _phase(True), check=lambda k: sorted(k))._repr_html_()
    assert "color:#060" in fixed
    assert "<table" not in fixed
