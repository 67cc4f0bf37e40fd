"""Who answers the KVM calls: a kernel era of the simulator, or this host.

These two closed vocabularies are defined here once; the command line's
choices (``--kernel-semantics``, ``--kvm``), the classroom page's, the
matrix's axes and every check of a value are derived from them.

They are ``Literal`` types, not enums: the values cross the boundary as the
plain strings a user types (``create_vm(semantics="v4.8")``, the command
line, a query string), ``create_vm`` overloads its return type on the backend
literal, and messages that quote a value with ``repr`` read as before. mypy
checks every spelling in the code against the one list.

This module imports nothing else, so the command-line parser can take its
choices from here without loading the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeGuard, get_args

#: A kernel the simulator answers as, by ``semantics=`` name (kvm-vgic.md §5),
#: the default (newest) first: Debian bookworm's Linux 6.1, era B (c7735769,
#: ITS registered at the first vCPU run) and era A (1085fdc6, ITS mapped at
#: its CTRL_INIT).
Era = Literal["v6.1", "v4.8", "v4.8-rc1"]
#: Another name for an era: ``"mainline"`` used to stand for "today's kernel"
#: and now names the one modern kernel the model is verified against.
Alias = Literal["mainline"]
#: Every accepted ``semantics=`` (``--kernel-semantics``) value.
SemanticsName = Literal[Era, Alias]
#: Who answers the KVM calls: the simulator, or this host's ``/dev/kvm``.
Backend = Literal["sim", "host"]

#: The eras, newest (the default) first.
ERAS: Final[tuple[Era, ...]] = get_args(Era)
#: The era each alias stands for.
ALIASES: Final[Mapping[Alias, Era]] = {"mainline": "v6.1"}
#: Every accepted ``semantics=`` value: the eras, then the aliases.
SEMANTICS_NAMES: Final[tuple[SemanticsName, ...]] = (*ERAS, *ALIASES)
#: The era the simulator answers as unless told otherwise (the newest, listed
#: first), which is also what a real host (``backend="host"``) stands for.
DEFAULT_ERA: Final[Era] = ERAS[0]
#: The backends, the default first.
BACKENDS: Final[tuple[Backend, ...]] = get_args(Backend)
#: What each accepted ``semantics=`` value stands for.
_ERA_OF: Final[Mapping[SemanticsName, Era]] = dict(
    [*((era, era) for era in ERAS), *ALIASES.items()]
)

#: The names of the default era: what a real host's kernel (the host
#: backend, or none at all under TCG) may be called.
DEFAULT_NAMES: Final[tuple[SemanticsName, ...]] = tuple(
    name for name in SEMANTICS_NAMES if _ERA_OF[name] == DEFAULT_ERA
)


def is_semantics_name(value: object) -> TypeGuard[SemanticsName]:
    """Return whether *value* is an accepted ``semantics=`` value."""
    return value in SEMANTICS_NAMES


def is_backend(value: object) -> TypeGuard[Backend]:
    """Return whether *value* is a KVM backend."""
    return value in BACKENDS


def era_of(name: SemanticsName) -> Era:
    """Return the era *name* stands for: itself, or what the alias means."""
    return _ERA_OF[name]
