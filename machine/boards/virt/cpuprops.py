"""``-cpu MODEL,prop=value,...``: the CPU properties QEMU 7.2 accepts for virt.

QEMU applies ``-cpu`` properties as globals on the CPU type, so a property the
model does not have is refused ("not found") and a malformed boolean too. Of
the properties a user may set, only ``pmu`` changes the device tree (``pmu=off``
drops ``/pmu``); the others listed in :data:`NEUTRAL_PROPS` change what the
guest CPU implements but not the tree, and are accepted and kept so the command
line round-trips. Properties the board itself sets (``has_el3``, ``mp-affinity``,
``start-powered-off``, ...) and the per-length SVE/SME switches are refused by
name: virtmodel does not model what they would change.

The table of which model has which property was read from the installed
``qemu-system-aarch64 -device MODEL-arm-cpu,help``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import parse_bool, parse_keyval, suggest

_COMMON: Final = (
    "cfgend",
    "has_el2",
    "has_el3",
    "neon",
    "pmu",
    "reset-hivecs",
    "start-powered-off",
    "vfp",
)
_SVE_LENGTHS: Final = tuple(f"sve{n}" for n in range(128, 2049, 128))
_SME_LENGTHS: Final = tuple(f"sme{n}" for n in (128, 256, 512, 1024, 2048))

#: Boolean properties each model has (``-device MODEL-arm-cpu,help``).
MODEL_BOOL_PROPS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "cortex-a7": frozenset(_COMMON),
        "cortex-a15": frozenset(_COMMON),
        **{
            name: frozenset((*_COMMON, "aarch64"))
            for name in (
                "cortex-a35",
                "cortex-a53",
                "cortex-a57",
                "cortex-a72",
                "cortex-a76",
                "neoverse-n1",
            )
        },
        "a64fx": frozenset((*_COMMON, "aarch64", "sve", *_SVE_LENGTHS)),
        "max": frozenset(
            (
                *_COMMON,
                "aarch64",
                "lpa2",
                "pauth",
                "pauth-impdef",
                "sve",
                *_SVE_LENGTHS,
                "sme",
                "sme_fa64",
                *_SME_LENGTHS,
            )
        ),
        "host": frozenset((*_COMMON, "aarch64", "sve", *_SVE_LENGTHS)),
    }
)

#: Properties accepted that leave the device tree as it is.
NEUTRAL_PROPS: Final = frozenset(
    ("lpa2", "pauth", "pauth-impdef", "sve", "sme", "sme_fa64")
)
#: Properties that change the tree, each handled by the board.
TREE_PROPS: Final = frozenset(("pmu",))


def parse_cpu(text: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """Split ``-cpu`` text into the model name and its properties, in order.

    Repeated properties keep the last value (QEMU's globals do the same).

    Raises:
        ConfigError: A property lacks ``=``, its value is not a boolean, or the
            model name is missing.
    """
    fields = parse_keyval(text, option="cpu", implied_key="model")
    head = fields.pop("model", "")
    props = {key: parse_bool(f"cpu.{key}", raw) for key, raw in fields.items()}
    if not head:
        msg = f"{text!r} names no CPU model (-cpu MODEL[,prop=value...])"
        raise ConfigError(option="cpu", value=text, problem=msg)
    return head, tuple(props.items())


def check_cpu_props(model: str, props: tuple[tuple[str, bool], ...]) -> None:
    """Refuse properties *model* lacks or that virtmodel does not model.

    Raises:
        ConfigError: A property the model does not have, one virtmodel does
            not model, or ``pauth-impdef=on`` with ``pauth=off``.
    """
    known = MODEL_BOOL_PROPS.get(model, frozenset())
    for key, _value in props:
        if key not in known:
            hint = suggest(key, sorted(known))
            msg = f"CPU {model!r} has no property {key!r}{hint}"
            raise ConfigError(option=f"cpu.{key}", value=key, problem=msg)
        if key not in NEUTRAL_PROPS | TREE_PROPS:
            msg = (
                f"CPU property {key!r} is not modelled (virtmodel models "
                f"{', '.join(sorted(NEUTRAL_PROPS | TREE_PROPS))})"
            )
            raise ConfigError(option=f"cpu.{key}", value=key, problem=msg)
    values = dict(props)
    if values.get("pauth-impdef") and not values.get("pauth", True):
        msg = "pauth-impdef=on needs pauth=on"
        raise ConfigError(option="cpu.pauth-impdef", value=True, problem=msg)


def format_cpu(model: str, props: tuple[tuple[str, bool], ...]) -> str:
    """Return the ``-cpu`` text for *model* and *props*."""
    return ",".join(
        [model, *(f"{key}={'on' if value else 'off'}" for key, value in props)]
    )
