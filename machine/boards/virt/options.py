"""``-M virt,...`` option strings to :class:`VirtConfig` and back.

:func:`parse_options` reads the text QEMU would get (``-M``, ``-smp``, ``-m``,
``-cpu``, ``-accel``), resolves QEMU's "no selection" defaults
(``finalize_gic_version``) and returns the field values a config is built from;
:func:`qemu_args` writes the equivalent ``qemu-system-aarch64`` arguments, so a
config round-trips. Keys QEMU knows but virtmodel does not model are refused by
name rather than ignored. A :class:`~machine.errors.ConfigError`'s ``option`` is
the ``-M`` key (``gic-version``), ``machine`` for the type,
``smp``/``smp.<key>``, ``m``/``m.slots``/``m.maxmem``, ``cpu`` or ``accel``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from virtmodel.devices.cpu import DEFAULT_CPU
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import (
    format_size,
    parse_bool,
    parse_int,
    parse_keyval,
    parse_memory,
    suggest,
)
from virtmodel.machine.smp import SmpTopology, parse_smp

#: Machine type names accepted for ``-M`` (``virt`` is QEMU's alias of ``virt-7.2``).
MACHINE_TYPES: Final = ("virt", "virt-7.2")

#: ``-M`` boolean keys and the VirtConfig field each sets.
_BOOL_KEYS: Final = {
    "its": "its",
    "highmem": "highmem",
    "secure": "secure",
    "virtualization": "virtualization",
    "ras": "ras",
    "mte": "mte",
    "default-bus-bypass-iommu": "default_bus_bypass_iommu",
    "dtb-randomness": "dtb_randomness",
    "dtb-kaslr-seed": "dtb_randomness",  # deprecated alias
}
_CHOICE_KEYS: Final = {
    "gic-version": ("2", "3", "4", "host", "max"),
    "iommu": ("none", "smmuv3"),
    "acpi": ("on", "off", "auto"),
}
_INT_KEYS: Final = {"phandle-start": "phandle_start"}
MACHINE_KEYS: Final = ("type", *_BOOL_KEYS, *_CHOICE_KEYS, *_INT_KEYS)

#: Keys QEMU 7.2 accepts on ``-M virt`` that virtmodel does not model, each
#: with what to do instead.
UNMODELLED_KEYS: Final[dict[str, str]] = {
    "accel": "use -accel tcg|kvm",
    "kernel": "use --kernel",
    "initrd": "use --initrd",
    "append": "use --append",
    "dtb": "virtmodel builds the device tree itself; leave it out",
    "dumpdtb": "use 'virtmodel dtb -o FILE'",
    **dict.fromkeys(
        (
            "kernel-irqchip",
            "kvm-shadow-mem",
            "dump-guest-core",
            "mem-merge",
            "usb",
            "graphics",
            "firmware",
            "suppress-vmdesc",
            "memory-encryption",
            "confidential-guest-support",
            "memory-backend",
            "nvdimm",
            "nvdimm-persistence",
            "x-oem-id",
            "x-oem-table-id",
            "hmat",
            "dt-compatible",
        ),
        "leave it out",
    ),
}
ACCELERATORS: Final = ("tcg", "kvm")
_EXTRA_KEYS: Final = (
    "kernel",
    "initrd",
    "append",
    "bios",
    "host_ipa_bits",
    "host_psci_version",
)


def _machine_fields(text: str) -> dict[str, Any]:
    fields = parse_keyval(text, option="machine", implied_key="type")
    machine_type = fields.pop("type", "virt")
    if machine_type not in MACHINE_TYPES:
        hint = suggest(machine_type, MACHINE_TYPES)
        msg = f"machine type {machine_type!r} is not modelled{hint}"
        raise ConfigError(option="machine", value=machine_type, problem=msg)
    if "dtb-randomness" in fields and "dtb-kaslr-seed" in fields:
        msg = "dtb-kaslr-seed is an alias of dtb-randomness; give only one"
        raise ConfigError(
            option="dtb-kaslr-seed", value=fields["dtb-kaslr-seed"], problem=msg
        )
    values: dict[str, Any] = {}
    for key, raw in fields.items():
        if key in _BOOL_KEYS:
            values[_BOOL_KEYS[key]] = parse_bool(key, raw)
        elif key in _CHOICE_KEYS:
            if raw not in _CHOICE_KEYS[key]:
                choices = ", ".join(repr(c) for c in _CHOICE_KEYS[key])
                msg = f"{raw!r} is not one of {choices}"
                raise ConfigError(key, raw, msg)
            values[key] = raw
        elif key in _INT_KEYS:
            values[_INT_KEYS[key]] = parse_int(key, raw, maximum=0xFFFF_FFFF)
        elif key in UNMODELLED_KEYS:
            msg = f"QEMU option {key!r} is not modelled; {UNMODELLED_KEYS[key]}"
            raise ConfigError(key, raw, msg)
        else:
            msg = f"unknown machine option {key!r}{suggest(key, MACHINE_KEYS)}"
            raise ConfigError(key, raw, msg)
    return values


def _gic_version(
    raw: str | None, *, accel: str, virtualization: bool, max_cpus: int
) -> int:
    """Resolve ``gic-version`` like ``finalize_gic_version`` (KVM host: v2, v3)."""
    if accel == "kvm":
        if raw in ("host", "max"):
            return 3
        if raw is None:
            return 2 if max_cpus <= 8 else 3
        return int(raw)  # 4 is refused by VirtConfig with the KVM message
    if raw == "host":
        msg = "gic-version=host needs KVM; add -accel kvm or pick 2, 3 or max"
        raise ConfigError(option="gic-version", value=raw, problem=msg)
    if raw == "max":
        return 4 if virtualization else 3
    return 2 if raw is None else int(raw)


@dataclass(frozen=True, slots=True)
class ParsedOptions:
    """QEMU option text read into field values, ready for ``VirtConfig(**values)``."""

    #: VirtConfig field name -> value (``smp`` is the resolved topology).
    values: dict[str, Any]
    #: What QEMU would warn about while reading the options.
    warnings: tuple[str, ...]
    #: Whether ``its=`` was given (it means nothing with GICv2).
    its_given: bool


def parse_options(
    machine: str | None = None,
    *,
    smp: str | None = None,
    memory: str | None = None,
    cpu: str | None = None,
    accel: str | None = None,
    **extra: Any,
) -> ParsedOptions:
    """Read QEMU option strings (``None`` = QEMU's default) into field values.

    Raises:
        ConfigError: An option is unknown or malformed.
    """
    for key in extra:
        if key not in _EXTRA_KEYS:
            msg = f"unknown keyword {key!r}{suggest(key, _EXTRA_KEYS)}"
            raise ConfigError(key, extra[key], msg)
    accel_name = accel if accel is not None else "tcg"
    if accel_name not in ACCELERATORS:
        hint = suggest(accel_name, ACCELERATORS)
        msg = f"accelerator {accel_name!r} is not modelled{hint}"
        raise ConfigError(option="accel", value=accel_name, problem=msg)
    values = _machine_fields(machine) if machine else {}
    mem = parse_memory(memory)
    topo = parse_smp(smp)
    raw_gic = values.pop("gic-version", None)
    values["gic_version"] = _gic_version(
        raw_gic,
        accel=accel_name,
        virtualization=bool(values.get("virtualization", False)),
        max_cpus=topo.max_cpus,
    )
    fields = {
        "accel": accel_name,
        "cpu_type": cpu if cpu is not None else DEFAULT_CPU,
        "smp": topo,
        "ram_size": mem.ram_size,
        "ram_slots": mem.ram_slots,
        "maxram_size": mem.maxram_size,
        **values,
        **extra,
    }
    return ParsedOptions(fields, topo.warnings, "its" in values)


def _smp_arg(topo: SmpTopology) -> str | None:
    if topo == SmpTopology():
        return None
    plain = SmpTopology(topo.cpus, topo.cpus, 1, 1, topo.cpus, 1)
    return str(topo.cpus) if topo == plain else topo.to_option()


def _machine_arg(fields: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    parts = ["virt", f"gic-version={fields['gic_version']}"]
    for key, field in _BOOL_KEYS.items():
        if key == "dtb-kaslr-seed":
            continue
        value = fields[field]
        if value != defaults[field]:
            parts.append(f"{key}={'on' if value else 'off'}")
    for key in ("iommu", "acpi"):
        if fields[key] != defaults[key]:
            parts.append(f"{key}={fields[key]}")
    if fields["phandle_start"]:
        parts.append(f"phandle-start={fields['phandle_start']}")
    return ",".join(parts)


def qemu_args(fields: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Return the ``qemu-system-aarch64`` arguments for config field values.

    *fields* and *defaults* map VirtConfig field names to the values chosen and
    to the defaults; a default left at its value is not written. The list never
    contains ``dumpdtb``.
    """
    args = ["-M", _machine_arg(fields, defaults), "-accel", fields["accel"]]
    args += ["-cpu", fields["cpu_type"]]
    smp = _smp_arg(fields["smp"])
    if smp is not None:
        args += ["-smp", smp]
    memory = format_size(fields["ram_size"])
    if fields["maxram_size"] != fields["ram_size"]:
        slots, maxmem = fields["ram_slots"], format_size(fields["maxram_size"])
        memory += f",slots={slots},maxmem={maxmem}"
    args += ["-m", memory]
    for name in ("kernel", "initrd", "append", "bios"):
        value = fields[name]
        if value is not None:
            args += [f"-{name}", value]
    return args
