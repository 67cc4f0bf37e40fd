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
from virtmodel.machine.boards.virt.cpuprops import format_cpu, parse_cpu
from virtmodel.machine.boards.virt.devopts import format_iommu, format_loader
from virtmodel.machine.boards.virt.numa import numa_args
from virtmodel.machine.boards.virt.versions import machine_compat
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import (
    format_size,
    memory_from_fields,
    parse_bool,
    parse_int,
    parse_keyval,
    suggest,
)
from virtmodel.machine.smp import SmpTopology, smp_from_fields

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
MACHINE_KEYS: Final = (
    "type",
    "accel",
    *_BOOL_KEYS,
    *_CHOICE_KEYS,
    *_INT_KEYS,
    "graphics",
    "usb",
    "mem-merge",
    "dump-guest-core",
    "suppress-vmdesc",
    "dt-compatible",
    "kernel",
    "initrd",
    "append",
    "firmware",
    "dtb",
)

#: Keys QEMU 7.2 accepts on ``-M virt`` that leave the device tree as it is:
#: accepted, their values checked as QEMU checks them, and otherwise ignored.
IGNORED_BOOL_KEYS: Final = (
    "graphics",
    "usb",
    "mem-merge",
    "dump-guest-core",
    "suppress-vmdesc",
)
IGNORED_TEXT_KEYS: Final = ("dt-compatible",)
#: Boot images, as ``-M`` keys (``-kernel`` and friends write these) -> field.
BOOT_KEYS: Final = {
    "kernel": "kernel",
    "initrd": "initrd",
    "append": "append",
    "firmware": "bios",
    "dtb": "dtb",
}

#: Keys QEMU 7.2 accepts on ``-M virt`` that virtmodel does not model, each
#: with what to do instead.
UNMODELLED_KEYS: Final[dict[str, str]] = {
    "dumpdtb": "use 'virtmodel dtb -o FILE'",
    **dict.fromkeys(
        (
            "kernel-irqchip",
            "kvm-shadow-mem",
            "memory-encryption",
            "confidential-guest-support",
            "memory-backend",
            "nvdimm",
            "nvdimm-persistence",
            "x-oem-id",
            "x-oem-table-id",
            "hmat",
        ),
        "leave it out",
    ),
}
ACCELERATORS: Final = ("tcg", "kvm")
_EXTRA_KEYS: Final = (
    "numa",
    "virtio_iommu",
    "guest_loaders",
    "kernel",
    "initrd",
    "append",
    "bios",
    "dtb",
    "host_ipa_bits",
    "host_psci_version",
)


def _machine_fields(given: Mapping[str, str]) -> dict[str, Any]:
    fields = dict(given)
    compat = machine_compat(fields.pop("type", "virt"))
    if "dtb-randomness" in fields and "dtb-kaslr-seed" in fields:
        msg = "dtb-kaslr-seed is an alias of dtb-randomness; give only one"
        raise ConfigError(
            option="dtb-kaslr-seed", value=fields["dtb-kaslr-seed"], problem=msg
        )
    values: dict[str, Any] = {"machine_type": compat.name}
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
        elif key in IGNORED_BOOL_KEYS:
            parse_bool(key, raw)  # checked as QEMU does; no effect on the tree
        elif key in IGNORED_TEXT_KEYS:
            pass
        elif key in BOOT_KEYS:
            values[BOOT_KEYS[key]] = raw
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


def _fields(
    text: str | Mapping[str, str] | None, option: str, implied: str
) -> dict[str, str]:
    if text is None:
        return {}
    if isinstance(text, str):
        return parse_keyval(text, option=option, implied_key=implied) if text else {}
    return dict(text)


def _accelerator(accel: str | None, machine: dict[str, str]) -> str:
    """Pick the accelerator: ``-accel``, else ``-M accel=a:b`` (first modelled)."""
    legacy = machine.pop("accel", None)
    if legacy is not None and accel is not None:
        msg = 'the -accel and "-machine accel=" options are incompatible; use one'
        raise ConfigError(option="accel", value=legacy, problem=msg)
    if accel is not None:
        names = [accel]
    elif legacy is not None:
        names = legacy.split(":")
    else:
        return "tcg"
    for name in names:
        if name in ACCELERATORS:
            return name
    hint = suggest(names[-1], ACCELERATORS)
    msg = f"accelerator {names[-1]!r} is not modelled{hint}"
    raise ConfigError(option="accel", value=names[-1], problem=msg)


def parse_options(
    machine: str | Mapping[str, str] | None = None,
    *,
    smp: str | Mapping[str, str] | None = None,
    memory: str | Mapping[str, str] | None = None,
    cpu: str | None = None,
    accel: str | None = None,
    **extra: Any,
) -> ParsedOptions:
    """Read QEMU options (``None`` = QEMU's default) into field values.

    Each of *machine*, *smp* and *memory* is the option's text or its keys
    already merged from repeated options (:mod:`.cmdline`).

    Raises:
        ConfigError: An option is unknown or malformed.
    """
    for key in extra:
        if key not in _EXTRA_KEYS:
            msg = f"unknown keyword {key!r}{suggest(key, _EXTRA_KEYS)}"
            raise ConfigError(key, extra[key], msg)
    machine_keys = _fields(machine, "machine", "type")
    accel_name = _accelerator(accel, machine_keys)
    values = _machine_fields(machine_keys)
    mem = memory_from_fields(_fields(memory, "m", "size"))
    compat = machine_compat(values["machine_type"])
    topo = smp_from_fields(
        _fields(smp, "smp", "cpus"),
        machine_name=compat.name,
        prefer_sockets=compat.smp_prefer_sockets,
    )
    raw_gic = values.pop("gic-version", None)
    # Under KVM QEMU lets the host's vGIC probe settle an unchosen version.
    values["gic_auto"] = raw_gic is None and accel_name == "kvm"
    values["gic_version"] = _gic_version(
        raw_gic,
        accel=accel_name,
        virtualization=bool(values.get("virtualization", False)),
        max_cpus=topo.max_cpus,
    )
    cpu_type, cpu_props = parse_cpu(cpu) if cpu is not None else (DEFAULT_CPU, ())
    fields = {
        "accel": accel_name,
        "cpu_type": cpu_type,
        "cpu_props": cpu_props,
        "smp": topo,
        "ram_size": mem.ram_size,
        "ram_slots": mem.ram_slots,
        "maxram_size": mem.maxram_size,
        **values,
        **extra,
    }
    return ParsedOptions(fields, topo.warnings, "its" in values)


def _smp_arg(topo: SmpTopology, prefer_sockets: bool) -> str | None:
    if topo == SmpTopology():
        return None
    n = topo.cpus
    plain = (
        SmpTopology(n, n, n, 1, 1, 1)
        if prefer_sockets
        else SmpTopology(n, n, 1, 1, n, 1)
    )
    return str(topo.cpus) if topo == plain else topo.to_option()


def _machine_arg(fields: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    # The newest type is spelt by its alias, as users write it.
    name = "virt" if fields["machine_type"] == "virt-7.2" else fields["machine_type"]
    parts = [name]
    if not fields.get("gic_auto"):  # else QEMU's probe picks it again
        parts.append(f"gic-version={fields['gic_version']}")
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
    args += ["-cpu", format_cpu(fields["cpu_type"], fields["cpu_props"])]
    prefer = machine_compat(fields["machine_type"]).smp_prefer_sockets
    smp = _smp_arg(fields["smp"], prefer)
    if smp is not None:
        args += ["-smp", smp]
    memory = format_size(fields["ram_size"])
    if fields["maxram_size"] != fields["ram_size"]:
        slots, maxmem = fields["ram_slots"], format_size(fields["maxram_size"])
        memory += f",slots={slots},maxmem={maxmem}"
    args += ["-m", memory]
    for name in ("kernel", "initrd", "append", "bios", "dtb"):
        value = fields[name]
        if value is not None:
            args += [f"-{name}", value]
    if fields["numa"] is not None:
        args += numa_args(fields["numa"])
    if fields["virtio_iommu"] is not None:
        args += ["-device", format_iommu(fields["virtio_iommu"])]
    for loader in fields["guest_loaders"]:
        args += ["-device", format_loader(loader)]
    return args
