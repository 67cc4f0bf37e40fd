"""The lab: a real arm64 KVM (Debian's 6.1 kernel under TCG with EL2) for anyone.

``virtmodel lab setup`` fetches and builds it (:func:`setup_lab`);
:func:`run_kvm_scripts` runs KVM scripts on its /dev/kvm and
:func:`trace_qemu` runs Debian's arm64 QEMU 7.2 on it under an ioctl tracer,
many of each per guest boot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtmodel.machine.lab.batch import (
        LabBatch,
        run_kvm_scripts,
        run_lab_batch,
        trace_qemu,
    )
    from virtmodel.machine.lab.paths import (
        LabError,
        LabNotReadyError,
        LabPaths,
        lab_dir,
    )
    from virtmodel.machine.lab.qemu import QemuTrace, split_configurations
    from virtmodel.machine.lab.script import (
        KvmScriptResult,
        ScriptCall,
        ScriptError,
        parse_script,
    )
    from virtmodel.machine.lab.setup import setup_lab
    from virtmodel.machine.lab.tracelog import TracedCall

# Exported lazily (PEP 562): the command-line parser needs the lab's
# subcommand, not its runner, setup or tracer.
_EXPORTS = {
    "KvmScriptResult": "virtmodel.machine.lab.script",
    "LabBatch": "virtmodel.machine.lab.batch",
    "LabError": "virtmodel.machine.lab.paths",
    "LabNotReadyError": "virtmodel.machine.lab.paths",
    "LabPaths": "virtmodel.machine.lab.paths",
    "QemuTrace": "virtmodel.machine.lab.qemu",
    "ScriptCall": "virtmodel.machine.lab.script",
    "ScriptError": "virtmodel.machine.lab.script",
    "TracedCall": "virtmodel.machine.lab.tracelog",
    "lab_dir": "virtmodel.machine.lab.paths",
    "parse_script": "virtmodel.machine.lab.script",
    "run_kvm_scripts": "virtmodel.machine.lab.batch",
    "run_lab_batch": "virtmodel.machine.lab.batch",
    "setup_lab": "virtmodel.machine.lab.setup",
    "split_configurations": "virtmodel.machine.lab.qemu",
    "trace_qemu": "virtmodel.machine.lab.batch",
}

__all__ = [
    "KvmScriptResult",
    "LabBatch",
    "LabError",
    "LabNotReadyError",
    "LabPaths",
    "QemuTrace",
    "ScriptCall",
    "ScriptError",
    "TracedCall",
    "lab_dir",
    "parse_script",
    "run_kvm_scripts",
    "run_lab_batch",
    "setup_lab",
    "split_configurations",
    "trace_qemu",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
