"""The ``-smp`` option: CPU counts and topology, resolved by QEMU 7.2's rules.

:func:`parse_smp` fills in the values the user left out exactly as QEMU's
``machine_parse_smp_config`` does for a machine that supports clusters but not
dies (the arm ``virt`` board): cores are preferred over sockets, threads are
computed last, ``maxcpus`` defaults to ``cpus`` and ``cpus`` to ``maxcpus``.
A zero value is accepted with a deprecation warning, as QEMU does; the warning
is returned on :attr:`SmpTopology.warnings` so a caller can show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import parse_int, parse_keyval, suggest

#: The keys ``-smp`` understands (``dies``/``books``/``drawers`` are other machines').
SMP_KEYS: Final = ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")

#: QEMU 7.2's generic limit for ``-M virt`` (``MachineClass.max_cpus``).
VIRT_MAX_CPUS: Final = 512
#: The versioned name QEMU uses in its limit message.
VIRT_MACHINE_NAME: Final = "virt-7.2"

_ZERO_WARNING: Final = (
    "CPU topology values of 0 are deprecated by QEMU and read as 'not given'"
)


@dataclass(frozen=True, slots=True)
class SmpTopology:
    """A resolved CPU topology: ``sockets * clusters * cores * threads == max_cpus``."""

    cpus: int = 1
    max_cpus: int = 1
    sockets: int = 1
    clusters: int = 1
    cores: int = 1
    threads: int = 1
    #: Deprecation notes QEMU would print as warnings (never affect the result).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        """Refuse a topology QEMU could not build, whoever constructs it.

        Raises:
            ConfigError: A count below 1, a hierarchy whose product differs
                from ``max_cpus``, or ``max_cpus`` below ``cpus``.
        """
        mx, c = self.max_cpus, self.cpus
        if self.sockets * self.clusters * self.cores * self.threads != mx:
            msg = f"{self.describe()} != maxcpus ({mx}); the product must equal maxcpus"
            raise ConfigError(option="smp", value=mx, problem=msg)
        if mx < c:
            msg = f"maxcpus ({mx}) is below cpus ({c}); maxcpus must be at least cpus"
            raise ConfigError(option="smp", value=mx, problem=msg)
        for name in ("cpus", "max_cpus", "sockets", "clusters", "cores", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"{name}={value!r} is not a count of at least 1"
                raise ConfigError(option="smp", value=value, problem=msg)

    def describe(self) -> str:
        """Return the hierarchy as ``sockets (2) * clusters (1) * cores (2) * ...``."""
        return (
            f"sockets ({self.sockets}) * clusters ({self.clusters}) * "
            f"cores ({self.cores}) * threads ({self.threads})"
        )

    def ids(self, index: int) -> tuple[int, int, int, int]:
        """Return (socket, cluster, core, thread) of CPU *index* (QEMU's formula).

        Raises:
            ConfigError: *index* is not below ``max_cpus``.
        """
        if not 0 <= index < self.max_cpus:
            msg = f"CPU index {index} is outside [0, {self.max_cpus})"
            raise ConfigError(option="smp", value=index, problem=msg)
        socket = index // (self.clusters * self.cores * self.threads)
        cluster = (index // (self.cores * self.threads)) % self.clusters
        core = (index // self.threads) % self.cores
        thread = index % self.threads
        return socket, cluster, core, thread

    def to_option(self) -> str:
        """Return the ``-smp`` argument that reproduces this topology exactly."""
        return (
            f"{self.cpus},maxcpus={self.max_cpus},sockets={self.sockets},"
            f"clusters={self.clusters},cores={self.cores},threads={self.threads}"
        )


def resolve_smp(
    *,
    cpus: int | None = None,
    maxcpus: int | None = None,
    sockets: int | None = None,
    dies: int | None = None,
    clusters: int | None = None,
    cores: int | None = None,
    threads: int | None = None,
    machine_max_cpus: int = VIRT_MAX_CPUS,
    machine_name: str = VIRT_MACHINE_NAME,
    prefer_sockets: bool = False,
) -> SmpTopology:
    """Fill in a topology from the values given (``None`` = not given).

    *prefer_sockets* is the rule of machine types before QEMU 6.2: a missing
    socket count is filled before a missing core count.

    Raises:
        ConfigError: ``dies`` > 1 (the board has no dies), the hierarchy's
            product differs from ``maxcpus``, ``maxcpus`` < ``cpus``, or
            ``maxcpus`` exceeds the machine limit.
    """
    given = {
        "cpus": cpus,
        "maxcpus": maxcpus,
        "sockets": sockets,
        "dies": dies,
        "clusters": clusters,
        "cores": cores,
        "threads": threads,
    }
    for key, value in given.items():
        if value is not None and value < 0:
            msg = f"{key}={value} is negative"
            raise ConfigError(option="smp", value=value, problem=msg)
    warnings = (_ZERO_WARNING,) if 0 in given.values() else ()
    # QEMU reads an explicit 0 exactly like an omitted value.
    c, mx, s, d, cl, co, t = (v or 0 for v in given.values())
    if d > 1:
        msg = f"dies={d}: the virt board's CPU topology has no dies"
        raise ConfigError(option="smp", value=d, problem=msg)
    cl = cl or 1
    if c == 0 and mx == 0:
        s, co, t = s or 1, co or 1, t or 1
    else:
        mx = mx or c
        if prefer_sockets:
            if s == 0:
                co, t = co or 1, t or 1
                s = mx // (cl * co * t)
            elif co == 0:
                t = t or 1
                co = mx // (s * cl * t)
        # QEMU >= 6.2 prefers cores over sockets when both are missing.
        elif co == 0:
            s, t = s or 1, t or 1
            co = mx // (s * cl * t)
        elif s == 0:
            t = t or 1
            s = mx // (cl * co * t)
        if t == 0:
            t = mx // (s * cl * co)
    mx = mx or s * cl * co * t
    c = c or mx
    topo = SmpTopology(c, mx, s, cl, co, t, warnings)
    check_machine_limit(topo, machine_max_cpus, machine_name)
    return topo


def check_machine_limit(
    topo: SmpTopology,
    machine_max_cpus: int = VIRT_MAX_CPUS,
    machine_name: str = VIRT_MACHINE_NAME,
) -> None:
    """Refuse *topo* when its ``max_cpus`` exceeds the machine type's limit.

    Raises:
        ConfigError: ``max_cpus`` exceeds *machine_max_cpus*.
    """
    if topo.max_cpus > machine_max_cpus:
        msg = (
            f"{topo.max_cpus} CPUs requested, but machine {machine_name!r} allows "
            f"at most {machine_max_cpus}"
        )
        raise ConfigError(option="smp", value=topo.max_cpus, problem=msg)


def parse_smp(
    text: str | None,
    *,
    machine_max_cpus: int = VIRT_MAX_CPUS,
    machine_name: str = VIRT_MACHINE_NAME,
) -> SmpTopology:
    """Parse ``-smp`` text: ``4``, ``4,maxcpus=8``, ``cpus=8,sockets=2,cores=4``.

    ``None`` or ``""`` means QEMU's default of one CPU.

    Raises:
        ConfigError: An unknown key, a value that is not a count, or a rule of
            :func:`resolve_smp` is broken.
    """
    if text is None or text == "":
        return SmpTopology()
    fields = parse_keyval(text, option="smp", implied_key="cpus")
    return smp_from_fields(
        fields, machine_max_cpus=machine_max_cpus, machine_name=machine_name
    )


def smp_from_fields(
    fields: dict[str, str],
    *,
    machine_max_cpus: int = VIRT_MAX_CPUS,
    machine_name: str = VIRT_MACHINE_NAME,
    prefer_sockets: bool = False,
) -> SmpTopology:
    """Resolve ``-smp`` from its keys as text (repeated ``-smp`` merged first).

    Raises:
        ConfigError: As :func:`parse_smp`.
    """
    if not fields:
        return SmpTopology()
    values: dict[str, int] = {}
    for key, raw in fields.items():
        if key not in SMP_KEYS:
            msg = f"unknown key {key!r}{suggest(key, SMP_KEYS)}"
            raise ConfigError(option=f"smp.{key}", value=raw, problem=msg)
        values[key] = parse_int(f"smp.{key}", raw)
    return resolve_smp(
        **values,
        machine_max_cpus=machine_max_cpus,
        machine_name=machine_name,
        prefer_sockets=prefer_sockets,
    )
