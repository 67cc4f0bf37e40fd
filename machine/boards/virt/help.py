"""The lists ``help`` values print (``-M help``, ``-cpu help``, ...).

Each list has QEMU 7.2's layout and heading, so a user finds what they know,
but holds only what virtmodel models: the machine types, the CPU models the
virt board accepts, the ``-M`` keys, the accelerators and the ``-device``
types virtmodel builds. The descriptions are virtmodel's own words.
"""

from __future__ import annotations

from typing import Final

from virtmodel.devices.cpu import CPU_MODELS
from virtmodel.machine.boards.virt.devopts import DEVICE_TYPES
from virtmodel.machine.boards.virt.versions import machine_compat
from virtmodel.machine.errors import ConfigError, HelpRequested

#: Machine types modelled -> description (``virt`` is the alias of virt-7.2).
MACHINE_TYPE_HELP: Final = {
    "virt": "arm virt board of QEMU 7.2 (alias of virt-7.2)",
    "virt-7.2": "arm virt board of QEMU 7.2",
}

#: ``-M`` keys virtmodel accepts -> (QEMU's value type, what it does here).
MACHINE_PROP_HELP: Final = {
    "acpi": ("OnOffAuto", "ACPI tables; off keeps the PL061 with firmware"),
    "append": ("string", "kernel command line, written to /chosen/bootargs"),
    "default-bus-bypass-iommu": ("bool", "root PCI bus bypasses the IOMMU"),
    "dt-compatible": ("string", "accepted; the virt board's tree ignores it"),
    "dtb": ("string", "device tree blob QEMU edits instead of its own (-dtb)"),
    "dtb-kaslr-seed": ("bool", "older name of dtb-randomness"),
    "dtb-randomness": ("bool", "kaslr-seed and rng-seed in /chosen"),
    "dump-guest-core": ("bool", "accepted; no effect on the tree"),
    "firmware": ("string", "firmware image (-bios)"),
    "gic-version": ("string", "2, 3, 4, host or max"),
    "graphics": ("bool", "accepted; no effect on the tree (-nographic: off)"),
    "highmem": ("bool", "use addresses above 4 GiB"),
    "initrd": ("string", "initial ramdisk, its range in /chosen"),
    "iommu": ("string", "none or smmuv3"),
    "its": ("bool", "GICv3 ITS (GICv3/4 only)"),
    "kernel": ("string", "kernel image (-kernel)"),
    "mem-merge": ("bool", "accepted; no effect on the tree"),
    "mte": ("bool", "memory tagging (TCG, -cpu max)"),
    "phandle-start": ("int", "first phandle allocated; 0 means 0x8000"),
    "ras": ("bool", "RAS error reporting (ACPI only)"),
    "secure": ("bool", "EL3 and the secure world (TCG)"),
    "suppress-vmdesc": ("bool", "accepted; no effect on the tree"),
    "usb": ("bool", "accepted; no effect on the tree"),
    "virtualization": ("bool", "EL2 (TCG)"),
}

#: ``-device`` types virtmodel models -> (bus, description).
DEVICE_HELP: Final = DEVICE_TYPES


def machine_help() -> str:
    """Return the ``-M help`` list."""
    rows = [f"{name:<20} {text}" for name, text in MACHINE_TYPE_HELP.items()]
    return "\n".join(["Supported machines are:", *rows]) + "\n"


def machine_props_help(machine_type: str) -> str:
    """Return the ``-M TYPE,help`` list of the keys virtmodel accepts."""
    name = machine_compat(machine_type).name
    rows = []
    for key, (kind, text) in sorted(MACHINE_PROP_HELP.items()):
        head = f"  {key}=<{kind}>"
        rows.append(f"{head:<24} - {text}")
    return "\n".join([f"{name}-machine options:", *rows]) + "\n"


def cpu_help() -> str:
    """Return the ``-cpu help`` list (the models the virt board accepts)."""
    return (
        "\n".join(["Available CPUs:", *(f"  {n}" for n in sorted(CPU_MODELS))]) + "\n"
    )


def device_help() -> str:
    """Return the ``-device help`` list of the device types virtmodel models."""
    rows = [
        f'name "{name}", bus {bus}, desc "{text}"'
        for name, (bus, text) in sorted(DEVICE_HELP.items())
    ]
    return "\n".join(["Devices virtmodel models:", *rows]) + "\n"


def accel_help() -> str:
    """Return the ``-accel help`` list (KVM is the simulated arm64 host's)."""
    return "Accelerators supported in QEMU binary:\ntcg\nkvm\n"


def check_help(option: str, keys: dict[str, str], implied: str) -> None:
    """Raise the help *option*'s keys ask for, if they ask for any.

    ``help`` as the implied key's value (``-cpu help``) lists the option's
    values; a bare ``help`` key (``-M virt,help``) lists ``-M``'s keys.

    Raises:
        HelpRequested: With the list to print.
        ConfigError: A bare ``help`` on an option whose keys are not listed.
    """
    if keys.get(implied) == "help":
        raise HelpRequested(_HELP_LISTS[option]())
    if "help" in keys:
        if option == "-M":
            raise HelpRequested(machine_props_help(keys.get("type", "virt")))
        msg = f"{option} does not list its keys here; see '{option} help'"
        raise ConfigError(option=option.lstrip("-"), value="help", problem=msg)


_HELP_LISTS: Final = {
    "-M": machine_help,
    "-cpu": cpu_help,
    "-device": device_help,
    "-accel": accel_help,
}
