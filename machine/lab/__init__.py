"""The lab: a real arm64 KVM (Debian's 6.1 kernel under TCG with EL2) for anyone.

``virtmodel lab setup`` fetches and builds it (:func:`setup_lab`);
:func:`run_kvm_scripts` runs KVM scripts on its /dev/kvm and
:func:`trace_qemu` runs Debian's arm64 QEMU 7.2 on it under an ioctl tracer,
many of each per guest boot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

#: Public name -> the module that defines it. Loaded on first use, so the
#: main CLI can build its ``lab`` parser without importing the lab's runner.
_HOMES = {
    "LabBatch": "batch",
    "run_kvm_scripts": "batch",
    "run_lab_batch": "batch",
    "trace_qemu": "batch",
    "LabError": "paths",
    "LabNotReadyError": "paths",
    "LabPaths": "paths",
    "lab_dir": "paths",
    "QemuTrace": "qemu",
    "split_configurations": "qemu",
    "KvmScriptResult": "script",
    "ScriptCall": "script",
    "ScriptError": "script",
    "parse_script": "script",
    "setup_lab": "setup",
    "TracedCall": "tracelog",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


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
