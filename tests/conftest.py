"""Shared fixtures and the rule for tests that need an outside program.

A test that needs QEMU, dtc, Graphviz or the arm64 kernel calls
:func:`require_tool` or :func:`require_file`. On a developer machine that lacks
the thing, the test is skipped with a reason that says how to get it; when
``CI=true`` the same situation is a failure, because CI must run everything.
Under ``CI=true`` any other skip is turned into a failure as well.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: a loaded 2-core CI machine must not turn a slow
# example into a failure. In CI the examples are derandomized, so every run
# tries the same inputs and a red run can be reproduced.
settings.register_profile("virtmodel", deadline=None)
settings.register_profile(
    "virtmodel-ci", deadline=None, derandomize=True, database=None
)
settings.load_profile(
    "virtmodel-ci" if os.environ.get("CI", "").lower() == "true" else "virtmodel"
)

#: Where ``.ci/setup`` puts Debian's arm64 kernel and busybox.
ASSETS = Path(
    os.environ.get("VIRTMODEL_ASSETS", Path(__file__).parent.parent / ".assets")
)


def in_ci() -> bool:
    """Return whether this run is CI, where a missing tool is an error."""
    return os.environ.get("CI", "").lower() == "true"


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true but {reason}; .ci/setup should have provided it")
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    """Return the path of program *name*, or skip (fail in CI) if it is absent."""
    path = shutil.which(name)
    if path is None:
        _missing(
            f"{name!r} is not installed (Debian package {package!r}; run: bash .ci/setup)"
        )
    assert path is not None
    return path


def require_file(path: Path, what: str) -> Path:
    """Return *path*, or skip (fail in CI) if it does not exist."""
    if not path.exists():
        _missing(f"{what} not found at {path} (run: bash .ci/setup)")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under ``CI=true`` a skipped test is a failed one: CI runs everything."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        report.outcome = "failed"
        report.longrepr = f"CI=true but the test was skipped: {reason}"
