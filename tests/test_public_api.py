"""Each package's ``__init__`` is its contract: ``__all__`` sorted and complete.

Other packages add themselves to ``PACKAGES`` when their ``__init__`` exports.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["notifiers"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_exists(package: str) -> None:
    module = importlib.import_module(package)

    assert module.__all__ == sorted(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_or_function_is_in_all(package: str) -> None:
    module = importlib.import_module(package)

    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
    }

    assert public == set(module.__all__)


def test_notifiers_exports_the_fixed_names() -> None:
    import notifiers

    fixed = {
        "NotifierRegistry",
        "NotifierList",
        "NotifierError",
        "CycleError",
        "UnknownNotifierError",
        "DuplicateNotifierError",
        "LateRegistrationError",
        "NotifierFailedError",
    }

    assert fixed <= set(notifiers.__all__)
