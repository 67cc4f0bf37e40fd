"""Fixtures for the lab tests: fake lab directories and ONE real guest boot.

The real guest costs 10-15 s a boot, so every ``realkvm`` test shares the
session-scoped :func:`lab_batch`: all KVM scripts and all QEMU configurations
the tests need run in a single boot, on first use.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import in_ci, require_tool
from virtmodel.machine.lab.paths import LabPaths


@pytest.fixture
def fake_lab(tmp_path: Path) -> LabPaths:
    """A lab directory whose kernel, busybox and helpers are placeholders."""
    paths = LabPaths(tmp_path / "lab")
    for path in (paths.image, paths.busybox, paths.kvmexec, paths.kvmtrace):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder " + path.name.encode())
    paths.qemu_cpio.write_bytes(b"")
    return paths


def fake_qemu(tmp_path: Path, body: str) -> str:
    """Write an executable shell script standing in for qemu-system-aarch64."""
    script = tmp_path / "fake-qemu"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def real_lab() -> LabPaths:
    """Return the user's lab, or skip (fail in CI) when it is not set up."""
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    paths = LabPaths.default()
    missing = [
        p
        for p in (
            paths.image,
            paths.busybox,
            paths.kvmexec,
            paths.kvmtrace,
            paths.qemu_cpio,
        )
        if not p.exists()
    ]
    if missing:
        reason = (
            f"the lab is not set up ({missing[0]} is missing; run: virtmodel lab setup)"
        )
        if in_ci():
            pytest.fail(f"CI=true but {reason}; .ci/setup should have provided it")
        pytest.skip(reason)
    return paths


def guest_timeout() -> float:
    """Seconds one batch boot may take; generous, a loaded CI machine is slow."""
    return float(os.environ.get("VIRTMODEL_LAB_TIMEOUT", "900"))
