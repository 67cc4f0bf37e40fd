"""``-numa`` and its memory backends, resolved by QEMU 7.2's rules.

``-object memory-backend-ram|memfd,id=ID,size=SIZE`` declares memory;
``-numa node[,nodeid=N][,cpus=A[-B]...][,memdev=ID]`` a node, its CPUs and its
memory; ``-numa dist,src=A,dst=B,val=D`` a distance. As in QEMU: node ids are
contiguous from 0, the nodes' memory adds up to ``-m``, CPUs go to node
``socket % nodes`` unless some are named (then the rest go to node 0, with
QEMU's warning), distances are at least 10
(exactly 10 to itself), one direction of a pair is enough and the other is
copied, and ``mem=`` is refused (virt-5.1 and later take ``memdev`` only).

In the device tree each node with memory gets its own ``/memory@`` node
(``numa-node-id``), each CPU its node, and a ``/distance-map`` appears when a
distance was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import parse_int, parse_size, suggest
from virtmodel.machine.smp import SmpTopology

#: QEMU's node limit (MAX_NODES) and the distance to oneself.
MAX_NODES: Final = 128
LOCAL_DISTANCE: Final = 10
BACKEND_TYPES: Final = ("memory-backend-ram", "memory-backend-memfd")
_NODE_KEYS: Final = ("type", "nodeid", "cpus", "memdev")
_DIST_KEYS: Final = ("type", "src", "dst", "val")


@dataclass(frozen=True, slots=True)
class NumaNode:
    """One ``-numa node``: its id, the CPUs named for it and its memory."""

    nodeid: int
    cpus: tuple[int, ...]
    mem: int
    #: The ``memdev=`` backend's id (its memory region's name), if any.
    memdev: str | None = None


@dataclass(frozen=True, slots=True)
class NumaConfig:
    """Nodes as given, and the distances given as (src, dst, val)."""

    nodes: tuple[NumaNode, ...]
    distances: tuple[tuple[int, int, int], ...] = ()


def parse_backend(keys: dict[str, str]) -> tuple[str, int]:
    """Return (id, size) of a ``-object memory-backend-*``.

    Raises:
        ConfigError: Another object type, or a missing ``id``/``size``.
    """
    kind = keys.get("qom-type", "")
    if kind not in BACKEND_TYPES:
        hint = suggest(kind, BACKEND_TYPES)
        msg = f"-object {kind}: not modelled{hint} (memory-backend-ram or -memfd)"
        raise ConfigError(option="object", value=kind, problem=msg)
    for key in keys:
        if key not in ("qom-type", "id", "size"):
            msg = f"{kind} property {key!r} is not modelled (id, size)"
            raise ConfigError(option=f"object.{key}", value=keys[key], problem=msg)
    if "id" not in keys or "size" not in keys:
        msg = f"{kind} needs id= and size="
        raise ConfigError(option="object", value=kind, problem=msg)
    return keys["id"], parse_size("object.size", keys["size"])


def _cpu_list(text: str) -> list[int]:
    first, sep, last = text.partition("-")
    start = parse_int("numa.cpus", first)
    end = parse_int("numa.cpus", last) if sep else start
    if end < start:
        msg = f"cpus={text!r}: the range ends before it starts"
        raise ConfigError(option="numa.cpus", value=text, problem=msg)
    return list(range(start, end + 1))


def parse_numa(
    items: Sequence[tuple[dict[str, str], list[str]]], backends: dict[str, int]
) -> NumaConfig:
    """Build the NUMA config from ``-numa`` keys (``cpus`` may repeat).

    Each item is the option's keys and every ``cpus=`` value in it.

    Raises:
        ConfigError: A rule QEMU applies while reading ``-numa`` is broken.
    """
    nodes: dict[int, NumaNode] = {}
    distances: list[tuple[int, int, int]] = []
    for keys, cpu_texts in items:
        kind = keys.get("type", "")
        if kind == "node":
            _refuse(keys, _NODE_KEYS, "node")
            nodeid = (
                parse_int("numa.nodeid", keys["nodeid"])
                if "nodeid" in keys
                else len(nodes)
            )
            if nodeid >= MAX_NODES or nodeid in nodes:
                problem = (
                    "is given twice" if nodeid in nodes else f"is not below {MAX_NODES}"
                )
                msg = f"NUMA node {nodeid} {problem}"
                raise ConfigError(option="numa.nodeid", value=nodeid, problem=msg)
            mem = 0
            memdev = keys.get("memdev")
            if memdev is not None:
                if keys["memdev"] not in backends:
                    msg = f"memdev {keys['memdev']!r} is no -object memory-backend"
                    raise ConfigError(
                        option="numa.memdev", value=keys["memdev"], problem=msg
                    )
                mem = backends[keys["memdev"]]
            cpus = tuple(cpu for text in cpu_texts for cpu in _cpu_list(text))
            nodes[nodeid] = NumaNode(nodeid, cpus, mem, memdev)
        elif kind == "dist":
            _refuse(keys, _DIST_KEYS, "dist")
            distances.append(_distance(keys, nodes))
        else:
            msg = f"-numa {kind or '(no type)'}: not modelled (node or dist)"
            raise ConfigError(option="numa", value=kind, problem=msg)
    return NumaConfig(tuple(nodes[i] for i in sorted(nodes)), tuple(distances))


def _refuse(keys: dict[str, str], allowed: tuple[str, ...], kind: str) -> None:
    for key in keys:
        if key not in allowed:
            if key == "mem":
                msg = "-numa node,mem= is not taken by virt-5.1 and later; use memdev="
            else:
                msg = f"-numa {kind} has no key {key!r}{suggest(key, allowed)}"
            raise ConfigError(option=f"numa.{key}", value=keys[key], problem=msg)


def _distance(keys: dict[str, str], nodes: dict[int, NumaNode]) -> tuple[int, int, int]:
    for key in ("src", "dst", "val"):
        if key not in keys:
            msg = f"-numa dist needs src=, dst= and val= ({key} is missing)"
            raise ConfigError(option="numa", value="dist", problem=msg)
    src = parse_int("numa.src", keys["src"])
    dst = parse_int("numa.dst", keys["dst"])
    val = parse_int("numa.val", keys["val"])
    for name, node in (("source", src), ("destination", dst)):
        if node not in nodes:
            msg = f"the {name} node {node} is not declared by an earlier -numa node"
            raise ConfigError(option="numa.dist", value=node, problem=msg)
    if val < LOCAL_DISTANCE:
        msg = f"distance {val} is below {LOCAL_DISTANCE}, the distance to oneself"
        raise ConfigError(option="numa.val", value=val, problem=msg)
    if src == dst and val != LOCAL_DISTANCE:
        msg = f"the distance of node {src} to itself must be {LOCAL_DISTANCE}"
        raise ConfigError(option="numa.val", value=val, problem=msg)
    return src, dst, val


def check_numa(numa: NumaConfig, smp: SmpTopology, ram_size: int) -> None:
    """Apply the rules QEMU checks once every option is read.

    Raises:
        ConfigError: A node id is missing, a CPU index is beyond ``maxcpus``,
            the nodes' memory differs from ``-m``, or distances are missing.
    """
    ids = [node.nodeid for node in numa.nodes]
    for index in range(len(ids)):
        if index not in ids:
            msg = f"NUMA node ids must start at 0 without gaps; node {index} is missing"
            raise ConfigError(option="numa.nodeid", value=index, problem=msg)
    for node in numa.nodes:
        for cpu in node.cpus:
            if cpu >= smp.max_cpus:
                msg = f"CPU index {cpu} is not below maxcpus ({smp.max_cpus})"
                raise ConfigError(option="numa.cpus", value=cpu, problem=msg)
    total = sum(node.mem for node in numa.nodes)
    if total != ram_size:
        msg = (
            f"the NUMA nodes' memory (0x{total:x}) must equal the RAM size "
            f"(0x{ram_size:x}); give each node a memdev"
        )
        raise ConfigError(option="numa", value=total, problem=msg)
    distance_matrix(numa)


def distance_matrix(numa: NumaConfig) -> list[list[int]] | None:
    """Return the full distance matrix, or None when no distance was given.

    Raises:
        ConfigError: A pair has no distance in either direction, or one pair is
            asymmetric while another lacks a direction.
    """
    if not numa.distances:
        return None
    n = len(numa.nodes)
    given = [[0] * n for _ in range(n)]
    for src, dst, val in numa.distances:
        given[src][dst] = val
    asymmetric = False
    for src in range(n):
        for dst in range(src + 1, n):
            there, back = given[src][dst], given[dst][src]
            if not there and not back:
                msg = f"no distance between nodes {src} and {dst}; give at least one"
                raise ConfigError(option="numa.dist", value=(src, dst), problem=msg)
            asymmetric |= bool(there and back and there != back)
    if asymmetric and any(
        src != dst and not given[src][dst] for src in range(n) for dst in range(n)
    ):
        msg = "with an asymmetric pair, every pair needs both directions"
        raise ConfigError(option="numa.dist", value=None, problem=msg)
    return [
        [
            given[src][dst] or (LOCAL_DISTANCE if src == dst else given[dst][src])
            for dst in range(n)
        ]
        for src in range(n)
    ]


def cpu_nodes(
    numa: NumaConfig, smp: SmpTopology
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return each possible CPU's node, and the CPUs a partial mapping left out.

    With no CPU named, CPU *i* goes to node ``socket(i) % nodes`` (virt's
    default); once some are named, QEMU 7.2 puts the rest on node 0 (and
    warns), as the dumped trees show.
    """
    named = {cpu: node.nodeid for node in numa.nodes for cpu in node.cpus}
    result = []
    missing = []
    for cpu in range(smp.max_cpus):
        if cpu in named:
            result.append(named[cpu])
        elif named:
            missing.append(cpu)
            result.append(0)  # a partial mapping leaves the rest on node 0
        else:
            result.append(smp.ids(cpu)[0] % len(numa.nodes))
    return tuple(result), tuple(missing)


def numa_args(numa: NumaConfig) -> list[str]:
    """Return ``-object``/``-numa`` arguments that rebuild *numa*."""
    args: list[str] = []
    ids = {node.nodeid: node.memdev or f"numa{node.nodeid}" for node in numa.nodes}
    for node in numa.nodes:
        if node.mem:
            args += [
                "-object",
                f"memory-backend-ram,id={ids[node.nodeid]},size={node.mem}",
            ]
    for node in numa.nodes:
        text = f"node,nodeid={node.nodeid}"
        text += "".join(f",cpus={cpu}" for cpu in node.cpus)
        if node.mem:
            text += f",memdev={ids[node.nodeid]}"
        args += ["-numa", text]
    for src, dst, val in numa.distances:
        args += ["-numa", f"dist,src={src},dst={dst},val={val}"]
    return args


def split_numa(text: str) -> tuple[dict[str, str], list[str]]:
    """Split ``-numa`` text into its keys and every ``cpus=`` value, in order.

    Raises:
        ConfigError: An element after the first lacks ``=``.
    """
    keys: dict[str, str] = {}
    cpus: list[str] = []
    for index, part in enumerate(text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            if index:
                msg = f"{part!r} in {text!r} needs a value"
                raise ConfigError(option="numa", value=text, problem=msg)
            key, value = "type", part
        if key == "cpus":
            cpus.append(value)
        else:
            keys[key] = value
    return keys, cpus
