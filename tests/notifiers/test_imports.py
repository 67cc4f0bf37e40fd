"""Importing the notifiers is cheap: networkx and the analyses load on use.

Every command line start imports the registry; networkx alone costs about
100 ms. Each check runs in a fresh interpreter, where nothing was imported
yet.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(code: str) -> list[str]:
    """Run *code* in a fresh interpreter; return which heavy modules it loaded."""
    probe = (
        f"{code}\n"
        "import sys\n"
        "heavy = ('networkx', 'virtmodel.notifiers.explore', "
        "'virtmodel.notifiers.conflicts')\n"
        "print(' '.join(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    "code",
    [
        "import virtmodel.notifiers.errors",
        "import virtmodel.notifiers",
        "from virtmodel.notifiers import NotifierRegistry, NotifierList, Trace",
        (
            "from virtmodel.notifiers import NotifierRegistry\n"
            "registry = NotifierRegistry('e')\n"
            "registry.add('a', print)\n"
            "registry.add('b', print, after='a', reads='r')\n"
            "registry.remove('b')"
        ),
    ],
)
def test_nothing_heavy_loads_before_an_order_is_computed(code):
    assert _loaded_after(code) == []


def test_computing_an_order_loads_networkx_and_no_analysis():
    code = (
        "from virtmodel.notifiers import NotifierRegistry\n"
        "registry = NotifierRegistry('e')\n"
        "registry.add('a', print)\n"
        "assert registry.order() == ['a']"
    )

    assert _loaded_after(code) == ["networkx"]


def test_a_lazy_name_loads_its_module_on_first_use():
    code = "from virtmodel.notifiers import tie_break_pairs"

    assert _loaded_after(code) == ["virtmodel.notifiers.conflicts"]


@pytest.mark.parametrize(
    "first",
    [
        "import virtmodel.notifiers.explore.orders",
        "from virtmodel.notifiers.explore import Built",
        "from virtmodel.notifiers import explore",
    ],
)
def test_explore_on_the_package_is_the_function_whatever_loads_first(first):
    code = (
        f"{first}\n"
        "import virtmodel.notifiers.explore.culprit\n"
        "from virtmodel.notifiers import explore\n"
        "from virtmodel.notifiers.explore.search import explore as function\n"
        "assert explore is function, explore"
    )

    assert "virtmodel.notifiers.explore" in _loaded_after(code)


def test_an_unknown_name_is_an_attribute_error():
    import virtmodel.notifiers as notifiers

    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = notifiers.Nothing
    assert {"explore", "Hazard", "NotifierRegistry"} <= set(dir(notifiers))
