"""QEMU-style option strings: key=value lists, booleans, sizes, ``-m`` and ``-smp``.

Everything here follows QEMU 7.2's parsers (``keyval``/``QemuOpts``,
``qemu_strtosz``, ``machine_set_mem``, ``machine_parse_smp_config``) so that a
command line QEMU accepts is accepted here with the same meaning, and each
rejection is one :class:`~machine.errors.ConfigError` naming the option and the
bad value. Two deliberate differences, both so that nothing a user typed is
silently dropped: a negative count is an error (QEMU wraps it around to a huge
unsigned number). A key given twice keeps its last value, as in QEMU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from virtmodel.machine.errors import ConfigError

KiB: Final = 1 << 10
MiB: Final = 1 << 20
GiB: Final = 1 << 30
TiB: Final = 1 << 40

#: QEMU's boolean spellings (case-sensitive, as ``qapi_bool_parse``).
BOOL_SPELLINGS: Final[dict[str, bool]] = {
    "on": True,
    "yes": True,
    "true": True,
    "off": False,
    "no": False,
    "false": False,
}

#: Size suffixes, powers of 1024 (``qemu_strtosz``; case-insensitive).
_SUFFIXES: Final[dict[str, int]] = {
    "B": 1,
    "K": KiB,
    "M": MiB,
    "G": GiB,
    "T": TiB,
    "P": 1 << 50,
    "E": 1 << 60,
}
# Leading blanks are skipped (strtod), trailing ones are not; hex has no fraction.
# re.ASCII: QEMU's parsers take ASCII digits only, not every Unicode digit.
_SIZE_RE: Final = re.compile(
    r"\s*(0[xX][0-9a-fA-F]+|\d+)(?:\.(\d+))?([A-Za-z]?)", re.ASCII
)
_INT_RE: Final = re.compile(r"0[xX][0-9a-fA-F]+|\d+", re.ASCII)

#: ``-m`` defaults and rules for the virt board (QEMU 7.2).
DEFAULT_RAM_SIZE: Final = 128 * MiB
_RAM_ALIGN: Final = 8192


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return a ``; did you mean 'x'?`` remedy for *word*, or ``""``."""
    import difflib  # only an error needs it, and every command imports this module

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_keyval(text: str, *, option: str, implied_key: str) -> dict[str, str]:
    """Split ``"virt,gic-version=3,its=on"`` into an ordered ``{key: value}`` dict.

    A first element without ``=`` is the value of *implied_key* (``type`` for
    ``-M``, ``cpus`` for ``-smp``, ``size`` for ``-m``). A literal comma inside a
    value is written ``,,`` as in QEMU.

    A key given twice keeps its last value, as QEMU's option parser does.

    Raises:
        ConfigError: An element lacks ``=`` or a key is empty.
    """
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1 : i + 2] == ",":
                current.append(",")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    result: dict[str, str] = {}
    for index, part in enumerate(parts):
        if "=" in part:
            key, value = part.split("=", 1)
        elif index == 0:
            key, value = implied_key, part
        else:
            msg = f"{part!r} in {text!r} needs a value ({part}=...)"
            raise ConfigError(option, text, msg)
        if not key:
            msg = f"empty key in {text!r}"
            raise ConfigError(option, text, msg)
        result.pop(key, None)  # the last one counts, in its own place
        result[key] = value
    return result


def parse_bool(option: str, value: str) -> bool:
    """Return the boolean QEMU reads from *value* (on/off, yes/no, true/false).

    Raises:
        ConfigError: *value* is not one of those six spellings.
    """
    try:
        return BOOL_SPELLINGS[value]
    except KeyError:
        msg = f"{value!r} is not a boolean; use on or off (also yes/no, true/false)"
        raise ConfigError(option, value, msg) from None


def parse_int(
    option: str, value: str, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """Return *value* as a decimal or ``0x`` hexadecimal integer within bounds.

    Raises:
        ConfigError: *value* is not an integer or lies outside [minimum, maximum].
    """
    if not _INT_RE.fullmatch(value):
        msg = f"{value!r} is not a non-negative integer"
        raise ConfigError(option, value, msg)
    number = int(value, 0) if value[:2].lower() == "0x" else int(value, 10)
    if number < minimum or (maximum is not None and number > maximum):
        upper = f"{maximum}" if maximum is not None else "any"
        msg = f"{value!r} is outside the range {minimum}..{upper}"
        raise ConfigError(option, value, msg)
    return number


def parse_size(option: str, value: str, *, default_unit: int = 1) -> int:
    """Return the bytes of a QEMU size such as ``512M``, ``1g``, ``1.5G`` or ``4096``.

    Suffixes B, K, M, G, T, P and E (either case) are powers of 1024. A bare
    number is multiplied by *default_unit*. As in QEMU, a fraction needs a
    unit larger than a byte (``1.0`` passes, ``1.5`` does not).

    Raises:
        ConfigError: The text is not a size, has an unknown suffix, is a
            fraction of a byte, or does not fit in 64 bits.
    """
    match = _SIZE_RE.fullmatch(value)
    if match is None:
        msg = (
            f"{value!r} is not a size; use a number with an optional suffix K, M, G, T"
        )
        raise ConfigError(option, value, msg)
    whole: str = match.group(1)
    fraction: str | None = match.group(2)
    suffix: str = match.group(3)
    if suffix:
        unit = _SUFFIXES.get(suffix.upper())
        if unit is None:
            msg = f"{value!r} has an unknown suffix {suffix!r}; use K, M, G, T, P or E"
            raise ConfigError(option, value, msg)
    else:
        unit = default_unit
    if fraction is not None and whole[:2].lower() == "0x":
        msg = f"{value!r} mixes a hexadecimal number with a fraction"
        raise ConfigError(option, value, msg)
    if fraction and unit == 1 and fraction.strip("0"):
        msg = f"{value!r} is a fraction of a byte; add a unit suffix such as M or G"
        raise ConfigError(option, value, msg)
    if whole[:2].lower() == "0x":
        whole = str(int(whole, 16))
    numerator = int(whole + (fraction or ""))
    scale: int = 10 ** len(fraction or "")
    size = numerator * unit // scale
    if size >= 1 << 64:
        msg = f"{value!r} does not fit in 64 bits"
        raise ConfigError(option, value, msg)
    return size


@dataclass(frozen=True, slots=True)
class MemoryOptions:
    """The resolved ``-m`` option: initial RAM, hot-plug slots and maximum RAM."""

    #: Initial RAM in bytes, 8 KiB aligned.
    ram_size: int = DEFAULT_RAM_SIZE
    #: Memory hot-plug slots (``slots=``).
    ram_slots: int = 0
    #: Maximum RAM including hot-pluggable memory (``maxmem=``); equals
    #: ``ram_size`` when not given.
    maxram_size: int = DEFAULT_RAM_SIZE


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def resolve_memory(
    ram_size: int | None, ram_slots: int | None = None, maxram_size: int | None = None
) -> MemoryOptions:
    """Apply QEMU's ``-m`` rules to already-parsed numbers.

    ``None`` or a zero RAM size means the board default (128 MiB); the size is
    rounded up to 8 KiB.

    Raises:
        ConfigError: ``slots`` without ``maxmem``, ``maxmem`` below the RAM
            size, or slots with ``maxmem`` equal to the RAM size.
    """
    size = _round_up(ram_size or DEFAULT_RAM_SIZE, _RAM_ALIGN)
    if size >= 1 << 64:
        msg = f"RAM size 0x{size:08x} does not fit in 64 bits"
        raise ConfigError(option="m", value=ram_size, problem=msg)
    if maxram_size is None:
        if ram_slots is not None:
            msg = f"slots={ram_slots} needs maxmem= (the most RAM hot-plug may reach)"
            raise ConfigError(option="m.slots", value=ram_slots, problem=msg)
        return MemoryOptions(size, 0, size)
    if maxram_size < size:
        msg = f"maxmem 0x{maxram_size:08x} is below the initial RAM size 0x{size:08x}"
        raise ConfigError(option="m.maxmem", value=maxram_size, problem=msg)
    if ram_slots and maxram_size == size:
        msg = (
            f"slots={ram_slots} leaves no room: maxmem 0x{maxram_size:08x} equals "
            f"the initial RAM size; raise maxmem"
        )
        raise ConfigError(option="m.maxmem", value=maxram_size, problem=msg)
    return MemoryOptions(size, ram_slots or 0, maxram_size)


def parse_memory(text: str | None) -> MemoryOptions:
    """Parse a ``-m`` argument such as ``1024``, ``1G`` or ``1G,slots=2,maxmem=8G``.

    A size ending in a digit is read in bytes and then taken as MiB (QEMU's
    legacy rule, so ``-m 1.5`` fails like in QEMU); ``maxmem`` without a suffix
    is in bytes, as in QEMU.

    Raises:
        ConfigError: An unknown key, a malformed size or count, or a rule of
            :func:`resolve_memory` is broken.
    """
    if text is None or text == "":
        return resolve_memory(None)
    return memory_from_fields(parse_keyval(text, option="m", implied_key="size"))


def memory_from_fields(fields: dict[str, str]) -> MemoryOptions:
    """Resolve ``-m`` from its keys (``size``, ``slots``, ``maxmem``), merged.

    Raises:
        ConfigError: As :func:`parse_memory`.
    """
    for key in fields:
        if key not in ("size", "slots", "maxmem"):
            msg = f"unknown key {key!r}{suggest(key, ('size', 'slots', 'maxmem'))}"
            raise ConfigError(option=f"m.{key}", value=fields[key], problem=msg)
    size = None
    if "size" in fields and fields["size"] != "":
        raw = fields["size"]
        size = parse_size("m", raw)
        if raw[-1:].isdigit():
            size *= MiB
            if size >= 1 << 64:
                msg = f"{raw!r} MiB does not fit in 64 bits"
                raise ConfigError(option="m", value=raw, problem=msg)
    slots = parse_int("m.slots", fields["slots"]) if "slots" in fields else None
    maxmem = parse_size("m.maxmem", fields["maxmem"]) if "maxmem" in fields else None
    return resolve_memory(size, slots, maxmem)


def format_size(size: int) -> str:
    """Return *size* with the largest exact suffix (``1G``, ``1536M``, ``100B``)."""
    for suffix in ("E", "P", "T", "G", "M", "K"):
        unit = _SUFFIXES[suffix]
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size}B"
