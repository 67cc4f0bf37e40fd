"""The lab package's public names, loaded on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import virtmodel.machine.lab as lab


def test_every_public_name_resolves_to_its_module():
    for name in lab.__all__:
        value = getattr(lab, name)
        assert value.__name__ == name
        assert value.__module__.startswith("virtmodel.machine.lab.")


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'run_everything'"):
        _ = lab.run_everything


def test_the_cli_parser_does_not_load_the_runner_or_the_kvm_model():
    code = (
        "import sys; from virtmodel.machine.cli.parser import build_parser; "
        "build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('virtmodel.machine.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for heavy in (
        "lab.batch",
        "lab.guest",
        "lab.tracelog",
        "machine.kvm.calls",  # the model; the parser reads only machine.kvm.eras
        "machine.kvm.vm",
        "qemu.process",
    ):
        assert heavy not in out
