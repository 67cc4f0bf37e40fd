"""A ``qemu-system-aarch64`` command line, read the way QEMU 7.2 reads it.

QEMU does not take the last of a repeated option wholesale; each option has its
own rule, and :func:`read_command_line` follows them:

- ``-M``/``-machine``, ``-smp`` and ``-m`` merge: each occurrence adds its keys
  to those before, a later value replacing an earlier one, so ``-M
  virt,gic-version=3 -M its=off`` is a GICv3 machine without an ITS and ``-smp
  4 -smp sockets=2`` has four CPUs in two sockets. Every ``-M`` has the implied
  key ``type``, so ``-M virt -M virt-7.2`` changes the type.
- ``-kernel``, ``-initrd``, ``-append``, ``-bios``, ``-dtb``, ``-enable-kvm``
  and ``-nographic`` are ``-M`` keys in disguise (``kernel``, ``initrd``,
  ``append``, ``firmware``, ``dtb``, ``accel=kvm``, ``graphics=off``) and merge
  with them in command-line order.
- ``-cpu`` is replaced whole by a later ``-cpu``.
- ``-accel`` accumulates: the accelerators are tried in order and the first
  one that starts wins, with a warning for each one skipped. virtmodel's
  simulated host starts ``tcg`` and ``kvm``. ``-accel`` and ``-M accel=`` are
  incompatible.
- The display, serial, monitor and default-device options change no device
  tree: they are accepted and their values kept for the record.

``help`` as a value (``-M help``, ``-M virt,help``, ``-cpu help``, ``-device
help``, ``-accel help``) raises :class:`~machine.errors.HelpRequested` with the
list QEMU would print, restricted to what virtmodel models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from virtmodel.machine.boards.virt.accels import first_accel
from virtmodel.machine.boards.virt.config import VirtConfig, config_from_options
from virtmodel.machine.boards.virt.devopts import (
    DEVICE_TYPES,
    GuestLoader,
    guest_loader,
    iommu_devfn,
)
from virtmodel.machine.boards.virt.help import check_help, cpu_help
from virtmodel.machine.boards.virt.numa import (
    cpu_nodes,
    parse_backend,
    parse_numa,
    split_numa,
)
from virtmodel.machine.errors import ConfigError, HelpRequested
from virtmodel.machine.options import parse_keyval, suggest
from virtmodel.machine.smp import SMP_KEYS

#: One option as typed: its canonical name and its value (``None`` for flags).
QemuArg = tuple[str, str | None]

#: Aliases -> the canonical spelling.
ALIASES: Final = {
    "-machine": "-M",
    "--kernel": "-kernel",
    "--initrd": "-initrd",
    "--append": "-append",
}
#: Options that are ``-M`` keys in disguise (value options).
MACHINE_KEY_OPTIONS: Final = {
    "-kernel": "kernel",
    "-initrd": "initrd",
    "-append": "append",
    "-bios": "firmware",
    "-dtb": "dtb",
}
#: Options that take no value.
FLAGS: Final = ("-nographic", "-nodefaults", "-enable-kvm")
#: Options accepted for the record: they change no device tree.
RECORDED: Final = ("-display", "-serial", "-monitor")
#: Every option this reader knows, values first.
VALUE_OPTIONS: Final = (
    "-M",
    "-smp",
    "-m",
    "-cpu",
    "-accel",
    *MACHINE_KEY_OPTIONS,
    *RECORDED,
    "-nic",
    "-net",
    "-device",
    "-object",
    "-numa",
)


@dataclass
class CommandLine:
    """The options of one command line after QEMU's merging rules."""

    #: ``-M`` keys, merged (``type`` included when given).
    machine: dict[str, str] = field(default_factory=dict)
    #: ``-smp`` keys, merged.
    smp: dict[str, str] = field(default_factory=dict)
    #: ``-m`` keys, merged.
    memory: dict[str, str] = field(default_factory=dict)
    #: The last ``-cpu`` text.
    cpu: str | None = None
    #: Each ``-accel`` in order, as its keys (``accel`` is the name).
    accels: list[dict[str, str]] = field(default_factory=list)
    #: Options kept for the record only (display, serial, ...), in order.
    recorded: list[QemuArg] = field(default_factory=list)
    #: Notes QEMU would print as warnings while reading.
    warnings: list[str] = field(default_factory=list)
    #: ``-device virtio-iommu-pci``: its devfn.
    virtio_iommu: int | None = None
    #: ``-device guest-loader`` blobs, in order.
    guest_loaders: list[GuestLoader] = field(default_factory=list)
    #: ``-M memory.*`` keys; ``-m`` overrides them whatever the order.
    machine_memory: dict[str, str] = field(default_factory=dict)
    #: ``-object memory-backend-*``: id -> size.
    backends: dict[str, int] = field(default_factory=dict)
    #: Each ``-numa``: its keys and its ``cpus=`` values.
    numa: list[tuple[dict[str, str], list[str]]] = field(default_factory=list)


def _name(option: str) -> str:
    """Return the ConfigError option name of *option* (``-M`` is ``machine``)."""
    return "machine" if option == "-M" else option.lstrip("-")


def _keyval(option: str, value: str, implied: str) -> dict[str, str]:
    if value == "":
        return {}  # QEMU reads an empty list as no keys at all
    parts = value.split(",")
    if "help" in parts[1:]:
        # QEMU lists the keys for a bare ``help`` (``-M virt,help``).
        keys = parse_keyval(
            ",".join(p for p in parts if p != "help"),
            option=_name(option),
            implied_key=implied,
        )
        return {**keys, "help": ""}
    return parse_keyval(value, option=_name(option), implied_key=implied)


def _read_net(option: str, value: str, line: CommandLine) -> None:
    if value == "none":
        line.recorded.append((option, value))
        return
    msg = (
        f"{option} {value}: network devices are not modelled "
        f"(they add no device-tree node); use {option} none or leave it out"
    )
    raise ConfigError(option=option.lstrip("-"), value=value, problem=msg)


def _read_device(value: str, line: CommandLine) -> None:
    keys = _keyval("-device", value, "driver")
    check_help("-device", keys, "driver")
    name = keys.get("driver", "")
    if name == "virtio-iommu-pci":
        if line.virtio_iommu is not None:
            msg = "virt has room for one IOMMU; virtio-iommu-pci is given twice"
            raise ConfigError(option="device", value=name, problem=msg)
        line.virtio_iommu = iommu_devfn(keys)
    elif name == "guest-loader":
        line.guest_loaders.append(guest_loader(keys))
    else:
        hint = suggest(name, DEVICE_TYPES)
        msg = f"-device {name}: not modelled{hint}; see -device help for what is"
        raise ConfigError(option="device", value=name, problem=msg)


#: ``-M memory.KEY`` -> the ``-m`` key it stands for.
_MEMORY_KEYS: Final = {"size": "size", "slots": "slots", "max-size": "maxmem"}


def _machine_key(line: CommandLine, key: str, item: str) -> None:
    """Merge one ``-M`` key; ``smp.*`` and ``memory.*`` are -smp and -m keys."""
    group, dot, sub = key.partition(".")
    if dot and group == "smp":
        if sub not in SMP_KEYS:
            msg = f"machine key {key!r} is not an -smp key{suggest(sub, SMP_KEYS)}"
            raise ConfigError(option="machine", value=key, problem=msg)
        line.smp.pop(sub, None)
        line.smp[sub] = item  # in command-line order with -smp
    elif dot and group == "memory":
        if sub not in _MEMORY_KEYS:
            hint = suggest(sub, _MEMORY_KEYS)
            msg = f"machine key {key!r} is not a memory key{hint}"
            raise ConfigError(option="machine", value=key, problem=msg)
        line.machine_memory[_MEMORY_KEYS[sub]] = item
    else:
        line.machine.pop(key, None)
        line.machine[key] = item


def read_command_line(args: Iterable[QemuArg]) -> CommandLine:
    """Merge *args* (canonical name, value) by QEMU's rules, in order.

    Raises:
        ConfigError: An option virtmodel does not know, or one QEMU refuses
            while reading (a malformed key list).
        HelpRequested: A ``help`` value was given.
    """
    line = CommandLine()
    for raw_option, value in args:
        option = ALIASES.get(raw_option, raw_option)
        if option in FLAGS:
            if option == "-enable-kvm":
                line.machine.pop("accel", None)
                line.machine["accel"] = "kvm"
            elif option == "-nographic":
                line.machine.pop("graphics", None)
                line.machine["graphics"] = "off"
            line.recorded.append((option, None))
            continue
        if value is None:
            msg = f"{option} needs a value"
            raise ConfigError(option=option.lstrip("-"), value=None, problem=msg)
        if option == "-M":
            keys = _keyval(option, value, "type")
            check_help(option, keys, "type")
            for key, item in keys.items():
                _machine_key(line, key, item)
        elif option in ("-smp", "-m"):
            target = line.smp if option == "-smp" else line.memory
            keys = _keyval(option, value, "cpus" if option == "-smp" else "size")
            for key, item in keys.items():
                target.pop(key, None)
                target[key] = item
        elif option == "-cpu":
            if value.partition(",")[0] == "help":
                raise HelpRequested(cpu_help())
            line.cpu = value
        elif option == "-accel":
            keys = _keyval(option, value, "accel")
            check_help(option, keys, "accel")
            line.accels.append(keys)
        elif option in MACHINE_KEY_OPTIONS:
            key = MACHINE_KEY_OPTIONS[option]
            line.machine.pop(key, None)
            line.machine[key] = value
        elif option in RECORDED:
            line.recorded.append((option, value))
        elif option in ("-nic", "-net"):
            _read_net(option, value, line)
        elif option == "-device":
            _read_device(value, line)
        elif option == "-object":
            name, size = parse_backend(_keyval(option, value, "qom-type"))
            if name in line.backends:
                msg = f"object id {name!r} is given twice"
                raise ConfigError(option="object", value=name, problem=msg)
            line.backends[name] = size
        elif option == "-numa":
            line.numa.append(split_numa(value))
        else:
            known = (*VALUE_OPTIONS, *FLAGS)
            msg = f"option {option!r} is not modelled{suggest(option, known)}"
            raise ConfigError(option=option.lstrip("-"), value=value, problem=msg)
    return line


def choose_accel(line: CommandLine) -> str | None:
    """Return the first ``-accel`` that starts, or ``None`` without ``-accel``.

    A warning for each accelerator skipped on the way goes to ``line.warnings``.

    Raises:
        ConfigError: ``-accel`` with ``-M accel=``, a bad property of an
            accelerator tried, or no accelerator that starts.
    """
    name, skipped = first_accel(line.accels, line.machine.get("accel"))
    line.warnings.extend(
        f"accelerator {s!r} is not available; falling back" for s in skipped
    )
    return name


def option_values(line: CommandLine) -> dict[str, Any]:
    """Return the keyword arguments of ``parse_options`` for *line*."""
    values: dict[str, Any] = {
        "machine": line.machine,
        "smp": line.smp,
        "memory": {**line.machine_memory, **line.memory},
        "cpu": line.cpu,
        "accel": choose_accel(line),
    }
    if line.virtio_iommu is not None:
        values["virtio_iommu"] = line.virtio_iommu
    if line.guest_loaders:
        values["guest_loaders"] = tuple(line.guest_loaders)
    if line.numa:
        values["numa"] = parse_numa(line.numa, line.backends)
    return values


def check_images(config: VirtConfig) -> None:
    """Refuse a ``-kernel``, ``-bios`` or ``-dtb`` file QEMU could not load.

    Raises:
        ConfigError: A file cannot be read, or the ``-dtb`` blob is not one
            QEMU could load and give the machine's memory nodes.
    """
    images = (("kernel", config.kernel), ("bios", config.bios), ("dtb", config.dtb))
    for option, path in images:
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            msg = f"cannot load {path!r}: {exc.strerror}"
            raise ConfigError(option=option, value=path, problem=msg) from exc
    if config.dtb is not None:
        # QEMU reads the blob at machine-done; a bad one is refused up front.
        from virtmodel.machine.boards.virt.userdtb import load_user_dtb

        load_user_dtb(config, initrd=None, psci=None)


def config_from_command_line(
    line: CommandLine, *, images: bool = True, **extra: Any
) -> VirtConfig:
    """Return the config *line* describes, its boot images checked if *images*.

    Raises:
        ConfigError: As ``config_from_options``, or an unreadable image.
    """
    config = config_from_options(**option_values(line), **extra)
    if images:
        check_images(config)
    if config.numa is not None:
        _, missing = cpu_nodes(config.numa, config.smp)
        if missing:
            listed = ", ".join(str(cpu) for cpu in missing)
            line.warnings.append(
                f"CPU(s) {listed} are in no NUMA node and go to node 0 "
                "(QEMU calls partial mappings obsolete)"
            )
    return config


def parse_argv(argv: Sequence[str]) -> list[QemuArg]:
    """Pair a plain QEMU argument list (``["-M", "virt", "-nographic"]``).

    Raises:
        ConfigError: An option virtmodel does not know, or one lacks its value.
    """
    pairs: list[QemuArg] = []
    items = iter(argv)
    for item in items:
        option = ALIASES.get(item, item)
        if option in FLAGS:
            pairs.append((option, None))
        elif option in VALUE_OPTIONS:
            value = next(items, None)
            if value is None:
                msg = f"{option} needs a value"
                raise ConfigError(option=option.lstrip("-"), value=None, problem=msg)
            pairs.append((option, value))
        else:
            known = (*VALUE_OPTIONS, *FLAGS)
            msg = f"option {item!r} is not modelled{suggest(item, known)}"
            raise ConfigError(option=item.lstrip("-"), value=item, problem=msg)
    return pairs


__all__ = [
    "CommandLine",
    "QemuArg",
    "check_images",
    "choose_accel",
    "config_from_command_line",
    "option_values",
    "parse_argv",
    "read_command_line",
]
