from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import require_tool
from virtmodel.machine.boards.virt.config import VirtConfig, config_from_options
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import GiB


def test_from_options_reads_the_documented_example() -> None:
    config = VirtConfig.from_options(
        machine="virt,gic-version=3,its=on",
        smp="4",
        memory="1G",
        cpu="cortex-a57",
        accel="tcg",
    )

    assert (config.gic_version, config.its, config.cpus, config.ram_size) == (
        3,
        True,
        4,
        GiB,
    )
    assert config.cpu_type == "cortex-a57"


def test_from_options_accepts_the_versioned_type_and_the_type_key() -> None:
    assert VirtConfig.from_options("virt-7.2") == VirtConfig()
    assert VirtConfig.from_options("type=virt,gic-version=3").gic_version == 3


@pytest.mark.parametrize(
    ("machine", "field", "value"),
    [
        ("virt,its=off", "its", False),
        ("virt,highmem=no", "highmem", False),
        ("virt,secure=true", "secure", True),
        ("virt,virtualization=yes", "virtualization", True),
        ("virt,iommu=smmuv3", "iommu", "smmuv3"),
        ("virt,acpi=off", "acpi", "off"),
        ("virt,ras=on", "ras", True),
        ("virt,dtb-randomness=off", "dtb_randomness", False),
        ("virt,dtb-kaslr-seed=off", "dtb_randomness", False),
        ("virt,default-bus-bypass-iommu=on", "default_bus_bypass_iommu", True),
        ("virt,phandle-start=0x100", "phandle_start", 0x100),
    ],
)
def test_each_machine_option_sets_its_field(
    machine: str, field: str, value: object
) -> None:
    assert getattr(VirtConfig.from_options(machine), field) == value


@pytest.mark.parametrize(
    ("machine", "kw", "gic"),
    [
        (None, {}, 2),
        ("virt,gic-version=max", {}, 3),
        ("virt,gic-version=max,virtualization=on", {}, 4),
        (None, {"accel": "kvm", "cpu": "host", "smp": "8"}, 2),
        (None, {"accel": "kvm", "cpu": "host", "smp": "9"}, 3),
        (None, {"accel": "kvm", "cpu": "host", "smp": "2,maxcpus=9"}, 3),
        ("virt,gic-version=host", {"accel": "kvm", "cpu": "host"}, 3),
        ("virt,gic-version=max", {"accel": "kvm", "cpu": "max"}, 3),
    ],
)
def test_gic_version_is_resolved_like_finalize_gic_version(
    machine: str | None, kw: dict[str, Any], gic: int
) -> None:
    assert VirtConfig.from_options(machine, **kw).gic_version == gic


@pytest.mark.parametrize(
    ("kw", "option", "fragment"),
    [
        (
            {"machine": "virtx"},
            "machine",
            "machine type 'virtx' is not modelled; did you mean",
        ),
        ({"machine": "virt,gic-versio=3"}, "gic-versio", "did you mean 'gic-version'"),
        ({"machine": "virt,foo=1"}, "foo", "unknown machine option 'foo'"),
        ({"machine": "virt,nvdimm=on"}, "nvdimm", "QEMU option 'nvdimm' is not"),
        ({"machine": "virt,usb=maybe"}, "usb", "'maybe' is not a boolean"),
        (
            {"machine": "virt,gic-version=5"},
            "gic-version",
            "'5' is not one of '2', '3', '4'",
        ),
        (
            {"machine": "virt,gic-version=host"},
            "gic-version",
            "gic-version=host needs KVM",
        ),
        ({"machine": "virt,its=maybe"}, "its", "'maybe' is not a boolean"),
        (
            {"machine": "virt,iommu=foo"},
            "iommu",
            "'foo' is not one of 'none', 'smmuv3'",
        ),
        (
            {"machine": "virt,acpi=yes"},
            "acpi",
            "'yes' is not one of 'on', 'off', 'auto'",
        ),
        (
            {"machine": "virt,phandle-start=abc"},
            "phandle-start",
            "not a non-negative integer",
        ),
        (
            {"machine": "virt,dtb-randomness=on,dtb-kaslr-seed=off"},
            "dtb-kaslr-seed",
            "alias",
        ),
        ({"accel": "hvf"}, "accel", "accelerator 'hvf' is not modelled"),
        (
            {"accel": "kvm"},
            "cpu",
            "KVM cannot run CPU model 'cortex-a15'",
        ),
        ({"cpu": "host"}, "cpu", "'host' needs KVM"),
        ({"kernal": "x"}, "kernal", "did you mean 'kernel'"),
    ],
)
def test_bad_options_are_named_in_one_line(
    kw: dict[str, Any], option: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as exc:
        config_from_options(**kw)

    assert exc.value.option == option
    assert "\n" not in str(exc.value)


def test_zero_cpus_is_accepted_with_qemus_deprecation_warning() -> None:
    config = VirtConfig.from_options(smp="0")

    assert config.cpus == 1
    assert "deprecated" in config.warnings[0]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"machine": "virt,gic-version=3,its=off,secure=on", "smp": "4", "memory": "1G"},
        {
            "machine": "virt,gic-version=max,virtualization=on,highmem=off",
            "smp": "2,maxcpus=8",
        },
        {
            "smp": "8,sockets=2,cores=2,threads=2",
            "memory": "1G,slots=2,maxmem=8G",
            "machine": "virt,gic-version=3,iommu=smmuv3,acpi=off,phandle-start=256",
        },
        {"cpu": "max", "machine": "virt,mte=on,dtb-randomness=off", "memory": "1536M"},
        {"accel": "kvm", "cpu": "host", "smp": "16"},
        {
            "cpu": "cortex-a57",
            "kernel": "Image",
            "initrd": "rd",
            "append": "console=ttyAMA0",
        },
    ],
)
def test_to_qemu_args_round_trips(kw: dict[str, Any]) -> None:
    config = VirtConfig.from_options(**kw)
    args = config.to_qemu_args()
    pairs = dict(zip(args[::2], args[1::2], strict=True))

    rebuilt = VirtConfig.from_options(
        pairs["-M"],
        smp=pairs.get("-smp"),
        memory=pairs.get("-m"),
        cpu=pairs["-cpu"],
        accel=pairs["-accel"],
        **{
            k[1:]: v
            for k, v in pairs.items()
            if k in ("-kernel", "-initrd", "-append", "-bios")
        },
    )

    assert rebuilt == config
    assert not any("dumpdtb" in arg for arg in args)


def test_to_qemu_args_spells_the_default_machine_briefly() -> None:
    assert VirtConfig().to_qemu_args() == [
        "-M",
        "virt,gic-version=2",
        "-accel",
        "tcg",
        "-cpu",
        "cortex-a15",
        "-m",
        "128M",
    ]


# -- the real QEMU as oracle ---------------------------------------------------

#: (-M options after "virt", -smp, -m, -cpu, whether QEMU 7.2 starts the machine)
AGREEMENT_TABLE: list[tuple[str, str | None, str | None, str | None, bool]] = [
    ("", None, None, None, True),
    ("gic-version=3,its=on", "4", "1G", None, True),
    ("gic-version=5", None, None, None, False),
    ("gic-version=host", None, None, None, False),
    ("gic-version=4", None, None, None, False),
    ("gic-version=4,virtualization=on", "317", None, "cortex-a57", True),
    ("gic-version=4,virtualization=on", "318", None, "cortex-a57", False),
    ("gic-version=3", "513", None, None, False),
    ("gic-version=3", "4,maxcpus=513", None, None, False),
    ("", "9", None, None, False),
    ("", "4,maxcpus=9", None, None, False),
    ("gic-version=3,highmem=off", "200", None, "cortex-a57", False),
    ("highmem=off", None, "4G", None, False),
    ("highmem=off", None, "3G", None, True),
    ("", None, "1G,maxmem=512M", None, False),
    ("", None, "1G,slots=2", None, False),
    ("", None, "1G,slots=2,maxmem=1G", None, False),
    ("", None, "1G,slots=300,maxmem=8G", None, False),
    ("", None, "1G,slots=1,maxmem=1100G", None, False),
    ("", None, "1G,slots=1,maxmem=1100G", "cortex-a57", True),
    ("foo=1", None, None, None, False),
    ("its=maybe", None, None, None, False),
    ("its=yes,highmem=no,secure=true,virtualization=false", None, None, None, True),
    ("iommu=foo", None, None, None, False),
    ("mte=on", None, None, None, False),
    ("mte=on", None, None, "max", True),
    ("", None, None, "cortex-a9", False),
    ("", None, None, "host", False),
    ("", "8,sockets=2,cores=3", None, None, False),
    ("gic-version=3", "8,sockets=2,clusters=2,cores=2", "1g", None, True),
    ("", "8,dies=2", None, None, False),
    ("acpi=maybe", None, None, None, False),
    ("", None, "1.5", None, False),
    ("", None, "1.5M", None, True),
    ("", "0", None, None, True),
]


def _run_qemu(
    qemu: str,
    tmp: Path,
    machine: str,
    smp: str | None,
    memory: str | None,
    cpu: str | None,
) -> subprocess.CompletedProcess[str]:
    dtb = tmp / "out.dtb"
    opts = ",".join(p for p in ("virt", machine, f"dumpdtb={dtb}") if p)
    cmd = [qemu, "-nographic", "-nodefaults", "-M", opts]
    for flag, value in (("-smp", smp), ("-m", memory), ("-cpu", cpu)):
        if value is not None:
            cmd += [flag, value]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _ours_accepts(
    machine: str, smp: str | None, memory: str | None, cpu: str | None
) -> bool:
    try:
        VirtConfig.from_options(
            ",".join(p for p in ("virt", machine) if p), smp=smp, memory=memory, cpu=cpu
        )
    except ConfigError:
        return False
    return True


@pytest.mark.external
def test_qemu_and_virtconfig_agree_on_accept_and_reject(tmp_path: Path) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    disagreements = []

    for machine, smp, memory, cpu, expected in AGREEMENT_TABLE:
        result = _run_qemu(qemu, tmp_path, machine, smp, memory, cpu)
        qemu_ok = result.returncode == 0
        ours = _ours_accepts(machine, smp, memory, cpu)
        if not qemu_ok == ours == expected:
            disagreements.append(
                (machine, smp, memory, cpu, qemu_ok, ours, result.stderr)
            )

    assert disagreements == []


def _dts(qemu: str, tmp: Path, config: VirtConfig) -> str:
    dtc = require_tool("dtc", "device-tree-compiler")
    dtb = tmp / "cfg.dtb"
    args = config.to_qemu_args()
    args[1] += f",dumpdtb={dtb}"
    subprocess.run(
        [qemu, "-nographic", "-nodefaults", *args],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return subprocess.run(
        [dtc, "-I", "dtb", "-O", "dts", str(dtb)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _cells(dts: str, node: str, prop: str) -> list[int] | None:
    block = re.search(rf"\n\t{re.escape(node)} {{\n(.*?)\n\t}};", dts, re.S)
    assert block is not None, node
    match = re.search(rf"\n\t\t{re.escape(prop)} = <([^>]*)>;", "\n" + block.group(1))
    return None if match is None else [int(c, 16) for c in match.group(1).split()]


def _cpu_regs(dts: str) -> dict[int, int]:
    found = re.findall(r"\n\t\tcpu@(\d+) \{\n(?:\t\t\t.*\n)*?\t\t\treg = <(\w+)>;", dts)
    return {int(index): int(reg, 16) for index, reg in found}


def _pairs(cells: list[int]) -> list[tuple[int, int]]:
    values = [cells[i] << 32 | cells[i + 1] for i in range(0, len(cells), 2)]
    return list(zip(values[::2], values[1::2], strict=True))


@pytest.mark.external
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {
            "machine": "virt,gic-version=3",
            "smp": "124",
            "cpu": "cortex-a57",
            "memory": "1G,slots=1,maxmem=400G",
        },
        {"cpu": "cortex-a15", "memory": "1G,slots=1,maxmem=600G"},
        {"cpu": "cortex-a57", "memory": "1G,slots=1,maxmem=1000G"},
        {"machine": "virt,highmem=off", "memory": "3G"},
        {"machine": "virt,virtualization=on", "smp": "2"},
        {"machine": "virt,gic-version=3,its=off", "smp": "20", "cpu": "max"},
    ],
)
def test_memory_map_and_mpidrs_match_qemus_device_tree(
    tmp_path: Path, kw: dict[str, Any]
) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    config = VirtConfig.from_options(**kw)
    dts = _dts(qemu, tmp_path, config)
    memmap = config.memmap

    pcie = _cells(dts, "pcie@10000000", "reg")
    bus_range = _cells(dts, "pcie@10000000", "bus-range")
    ranges = _cells(dts, "pcie@10000000", "ranges")
    intc = _cells(dts, "intc@8000000", "reg")
    gic_names = (
        ["gic_dist", "gic_cpu", "gic_hyp", "gic_vcpu"]
        if config.gic_version == 2
        else ["gic_dist", "gic_redist", "high_gic_redist2"]
    )

    assert pcie is not None
    assert _pairs(pcie) == [config.ecam]
    assert bus_range == [0, config.nr_pcie_buses - 1]
    assert ranges is not None
    assert (0x0300_0000 in ranges[::7]) == config.highmem_mmio
    assert intc is not None
    assert _pairs(intc) == [memmap[n] for n in gic_names if n in memmap]
    assert _cells(dts, "cpus", "#address-cells") == [1]
    assert _cpu_regs(dts) == {i: config.mpidr(i) for i in range(config.cpus)}


@settings(max_examples=60, deadline=None)
@given(
    gic=st.sampled_from(["", "gic-version=2", "gic-version=3", "gic-version=max"]),
    flags=st.lists(
        st.sampled_from(
            [
                "its=off",
                "highmem=off",
                "secure=on",
                "virtualization=on",
                "iommu=smmuv3",
                "acpi=off",
                "ras=on",
                "dtb-randomness=off",
            ]
        ),
        unique=True,
    ),
    smp=st.sampled_from(
        [
            None,
            "1",
            "4",
            "4,maxcpus=8",
            "8,sockets=2,clusters=2,cores=2",
            "124",
            "2,threads=2",
        ]
    ),
    memory=st.sampled_from([None, "1G", "1536M", "3G", "1G,slots=2,maxmem=8G"]),
    cpu=st.sampled_from([None, "cortex-a7", "cortex-a53", "cortex-a57", "max"]),
)
def test_every_accepted_combination_round_trips_through_qemu_args(
    gic: str, flags: list[str], smp: str | None, memory: str | None, cpu: str | None
) -> None:
    machine = ",".join(["virt", *([gic] if gic else []), *flags])
    try:
        config = VirtConfig.from_options(machine, smp=smp, memory=memory, cpu=cpu)
    except ConfigError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert "\n" not in error
        return
    args = config.to_qemu_args()
    pairs = dict(zip(args[::2], args[1::2], strict=True))

    rebuilt = VirtConfig.from_options(
        pairs["-M"], smp=pairs.get("-smp"), memory=pairs["-m"], cpu=pairs["-cpu"]
    )

    assert rebuilt == config
    assert list(rebuilt.memmap.items()) == list(config.memmap.items())


def _dts_nodes(dts: str) -> dict[str, dict[str, str]]:
    """Return {path: {property: raw value}} from dtc's DTS output."""
    nodes: dict[str, dict[str, str]] = {}
    stack: list[str] = []
    for raw in dts.splitlines():
        line = raw.strip()
        if line.endswith("{"):
            stack.append(line[:-1].strip())
            nodes["/".join(stack)] = {}
        elif line == "};":
            stack.pop()
        elif stack and line.endswith(";"):
            name, _, value = line[:-1].partition(" = ")
            nodes["/".join(stack)][name] = value
    return nodes


@pytest.mark.external
@pytest.mark.parametrize(
    "smp",
    [
        "4",
        "8,sockets=2,cores=2,threads=2",
        "8,sockets=2,clusters=2,cores=2",
        "8,sockets=2",
        "12,clusters=3,threads=2",
        "4,maxcpus=8,sockets=2",
    ],
)
def test_topology_ids_match_qemus_cpu_map(tmp_path: Path, smp: str) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    config = VirtConfig.from_options("virt,gic-version=3", smp=smp, cpu="cortex-a57")
    nodes = _dts_nodes(_dts(qemu, tmp_path, config))
    phandle_to_cpu = {
        props["phandle"]: int(path.rsplit("@", 1)[1])
        for path, props in nodes.items()
        if re.fullmatch(r"//cpus/cpu@\d+", path)
    }

    leaves = {}
    for path, props in nodes.items():
        if "cpu" in props and "/cpu-map/" in path:
            ids = [
                int(n) for n in re.findall(r"(?:socket|cluster|core|thread)(\d+)", path)
            ]
            ids += [0] * (4 - len(ids))  # QEMU omits /threadT when threads == 1
            leaves[phandle_to_cpu[props["cpu"]]] = tuple(ids)

    assert leaves == {i: tuple(config.topology_ids(i)) for i in range(config.cpus)}


@pytest.mark.parametrize(
    ("machine", "option", "remedy"),
    [
        ("virt,dumpdtb=/tmp/x.dtb", "dumpdtb", "use 'virtmodel dtb -o FILE'"),
        ("virt,hmat=on", "hmat", "leave it out"),
        ("virt,kernel-irqchip=off", "kernel-irqchip", "leave it out"),
    ],
)
def test_qemu_keys_we_do_not_model_are_refused_with_a_remedy(
    machine: str, option: str, remedy: str
) -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"is not modelled; {remedy}")
    ) as exc:
        VirtConfig.from_options(machine)

    assert exc.value.option == option


def test_its_with_gicv2_is_accepted_but_reported_as_ineffective() -> None:
    config = VirtConfig.from_options("virt,its=off")

    assert config.gic_version == 2
    assert config.warnings == (
        "its has no effect with GICv2: the board always adds a GICv2m frame",
    )
    assert VirtConfig.from_options("virt,gic-version=3,its=off").warnings == ()


def _sample_option_sets(
    count: int,
) -> list[tuple[str, str | None, str | None, str | None]]:
    rng = random.Random(4_8_0)  # fixed seed: the same table on every run
    flags = [
        "its=off",
        "highmem=off",
        "secure=on",
        "virtualization=on",
        "mte=on",
        "iommu=smmuv3",
        "acpi=off",
        "ras=on",
    ]
    samples = []
    for _ in range(count):
        machine = ",".join(
            [
                rng.choice(
                    [
                        "",
                        "gic-version=2",
                        "gic-version=3",
                        "gic-version=4",
                        "gic-version=max",
                    ]
                ),
                *rng.sample(flags, rng.randint(0, 3)),
            ]
        ).strip(",")
        smp = rng.choice([None, "1", "4", "8", "9", "61", "62", "124", "4,maxcpus=9"])
        memory = rng.choice(
            [
                None,
                "1G",
                "3G",
                "4G",
                "1G,slots=1,maxmem=600G",
                "1G,slots=1,maxmem=1100G",
            ]
        )
        cpu = rng.choice([None, "cortex-a7", "cortex-a53", "cortex-a57", "max"])
        samples.append((machine, smp, memory, cpu))
    return samples


@pytest.mark.external
def test_qemu_and_virtconfig_agree_on_sampled_option_combinations(
    tmp_path: Path,
) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    disagreements = []

    for machine, smp, memory, cpu in _sample_option_sets(30):
        result = _run_qemu(qemu, tmp_path, machine, smp, memory, cpu)
        ours = _ours_accepts(machine, smp, memory, cpu)
        if (result.returncode == 0) != ours:
            disagreements.append(
                (machine, smp, memory, cpu, ours, result.stderr.strip())
            )

    assert disagreements == []
