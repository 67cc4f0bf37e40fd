"""Hypothesis strategies for machine options in QEMU's spelling, good and bad.

Values are drawn from pools that mix what QEMU accepts (``1G``, ``1g``,
``1024``, ``4,maxcpus=8``, ``on``/``yes``) with near misses (wrong case,
stray commas, negative or huge numbers, unknown keys), so most examples land
near the edge between accepted and rejected.
"""

from __future__ import annotations

from hypothesis import strategies as st

MACHINE_KEYS = (
    "gic-version",
    "its",
    "highmem",
    "secure",
    "virtualization",
    "iommu",
    "acpi",
    "ras",
    "mte",
    "dtb-randomness",
    "phandle-start",
    "default-bus-bypass-iommu",
)
ODD_KEYS = (
    "foo",
    "Its",
    "gic_version",
    "kernel-irqchip",
    "type",
    "",
    " its",
    "dumpdtb",
)
MACHINE_VALUES = (
    "on", "off", "yes", "no", "true", "false", "ON", "2", "3", "4", "max", "host",
    "smmuv3", "none", "auto", "", "-1", "0x8000", "4294967296", "maybe", "é",
)  # fmt: skip
CPUS = (
    "cortex-a7", "cortex-a15", "cortex-a35", "cortex-a53", "cortex-a57",
    "cortex-a72", "cortex-a76", "a64fx", "neoverse-n1", "max", "host",
    "Cortex-A57", "cortex-a9", "", "max,pmu=off",
)  # fmt: skip
SIZE_SUFFIXES = ("", "K", "M", "G", "T", "k", "m", "g", "t", "B", "X", "MiB", "e3")
SMP_KEYS = ("cpus", "maxcpus", "sockets", "clusters", "cores", "threads", "dies", "foo")

small_ints = st.one_of(
    st.integers(0, 16),
    st.sampled_from((64, 123, 124, 255, 256, 512, 513, 4096, -1, 2**63, 10**30)),
)


@st.composite
def machine_strings(draw: st.DrawFn) -> str:
    """Return a ``-M`` value: a type name and a few key=value pairs."""
    head = draw(st.sampled_from(("virt", "virt", "virt", "virt-7.2", "VIRT", "pc", "")))
    parts = [head]
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(MACHINE_KEYS) | st.sampled_from(ODD_KEYS))
        if draw(st.integers(0, 9)) == 0:
            parts.append(key)  # a key with no value
        else:
            value = draw(st.sampled_from(MACHINE_VALUES) | st.text(max_size=4))
            parts.append(f"{key}={value}")
    return ",".join(parts)


@st.composite
def smp_strings(draw: st.DrawFn) -> str:
    """Return a ``-smp`` value such as ``4``, ``4,maxcpus=8`` or ``cores=0``."""
    parts = []
    if draw(st.booleans()):
        parts.append(str(draw(small_ints)))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(SMP_KEYS))
        value = draw(small_ints.map(str) | st.sampled_from(("", "x", "1.5", "0x4")))
        parts.append(f"{key}={value}")
    return ",".join(parts)


@st.composite
def memory_strings(draw: st.DrawFn) -> str:
    """Return a ``-m`` value such as ``1024``, ``1G``, ``1g`` or ``1G,maxmem=4G``."""
    number = draw(
        st.sampled_from(("0", "1", "1.5", "128", "1024", "3", "255", "256", "-1", "x"))
    )
    text = number + draw(st.sampled_from(SIZE_SUFFIXES))
    if draw(st.booleans()):
        key = draw(st.sampled_from(("maxmem", "slots", "size", "foo")))
        text += f",{key}={draw(st.sampled_from(('4G', '2', '512M', '-1', '')))}"
    return text


@st.composite
def machine_argv(draw: st.DrawFn) -> list[str]:
    """Return the machine-option part of a command line."""
    argv: list[str] = []
    if draw(st.booleans()):
        argv += ["-M", draw(machine_strings())]
    if draw(st.booleans()):
        argv += ["-smp", draw(smp_strings())]
    if draw(st.booleans()):
        argv += ["-m", draw(memory_strings())]
    if draw(st.booleans()):
        argv += ["-cpu", draw(st.sampled_from(CPUS))]
    if draw(st.booleans()):
        argv += ["-accel", draw(st.sampled_from(("tcg", "kvm", "kvm", "hvf")))]
    if draw(st.booleans()):
        era = draw(st.sampled_from(("v6.1", "v4.8", "v4.8-rc1")))
        argv += ["--kernel-semantics", era]
    if draw(st.booleans()):
        argv += ["--notifiers", draw(st.sampled_from(("ordered", "qemu-lifo")))]
    if draw(st.booleans()):
        argv += ["--its-init", draw(st.sampled_from(("realize", "init-done")))]
    return argv
