"""The ``-accel`` list: which accelerator starts, and the properties each takes.

QEMU tries the ``-accel`` options in order and keeps the first accelerator
that starts, warning about each one it skips; virtmodel's simulated host
starts ``tcg`` and ``kvm``. ``-accel`` and ``-M accel=`` are incompatible.
Each accelerator's properties are checked as QEMU 7.2 checks them on arm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import parse_bool, parse_int, suggest

__all__ = ["STARTING", "first_accel"]

#: The accelerators the simulated host starts.
STARTING: Final = ("tcg", "kvm")
#: ``-accel`` properties per accelerator, each with a checker of its value.
_THREAD_MODES: Final = ("single", "multi")
_IRQCHIP_MODES: Final = ("on", "off", "split")


def first_accel(
    accels: Sequence[Mapping[str, str]], machine_accel: str | None
) -> tuple[str | None, list[str]]:
    """Return the first accelerator of *accels* that starts, and those skipped.

    *accels* holds each ``-accel`` as its keys (``accel`` is the name);
    *machine_accel* is ``-M accel=``, if given. Without ``-accel`` the
    answer is ``(None, [])``.

    Raises:
        ConfigError: ``-accel`` with ``-M accel=``, a bad property of the
            accelerator chosen, or no accelerator that starts.
    """
    if not accels:
        return None, []
    if machine_accel is not None:
        msg = 'the -accel and "-machine accel=" options are incompatible; use one'
        raise ConfigError(option="accel", value=machine_accel, problem=msg)
    skipped: list[str] = []
    for keys in accels:
        name = keys.get("accel", "")
        if name in STARTING:
            _check_accel_props(name, keys)
            return name, skipped
        skipped.append(name)
    hint = suggest(skipped[-1], STARTING)
    msg = f"accelerator {skipped[-1]!r} is not available{hint} (tcg, kvm)"
    raise ConfigError(option="accel", value=skipped[-1], problem=msg)


def _check_accel_props(name: str, keys: Mapping[str, str]) -> None:
    for key, value in keys.items():
        if key == "accel":
            continue
        option = f"accel.{key}"
        if name == "tcg" and key == "thread":
            if value not in _THREAD_MODES:
                msg = f"thread={value!r} is not 'single' or 'multi'"
                raise ConfigError(option=option, value=value, problem=msg)
        elif name == "tcg" and key == "tb-size":
            parse_int(option, value)
        elif name == "tcg" and key == "split-wx":
            parse_bool(option, value)
        elif name == "kvm" and key == "kernel-irqchip":
            _check_irqchip(value)
        elif name == "kvm" and key in ("dirty-ring-size", "kvm-shadow-mem"):
            parse_int(option, value)
        else:
            msg = f"the {name} accelerator has no property {key!r}"
            raise ConfigError(option=option, value=value, problem=msg)


def _check_irqchip(value: str) -> None:
    if value not in _IRQCHIP_MODES:
        msg = f"kernel-irqchip={value!r} is not on, off or split"
        raise ConfigError(option="accel.kernel-irqchip", value=value, problem=msg)
    if value == "split":
        msg = "kernel-irqchip=split does not exist on arm (QEMU refuses it)"
        raise ConfigError(option="accel.kernel-irqchip", value=value, problem=msg)
    if value == "off":
        msg = (
            "kernel-irqchip=off (a GIC emulated in QEMU under KVM) is not "
            "modelled; virtmodel models KVM's in-kernel vGIC (on)"
        )
        raise ConfigError(option="accel.kernel-irqchip", value=value, problem=msg)
