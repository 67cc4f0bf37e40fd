"""The QEMU command line as QEMU 7.2 merges, accepts and refuses it.

Each case runs through virtmodel and, live, through the installed QEMU: both
must refuse, or both accept with byte-identical device trees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.machine.qemu_cmdline import compare, virtmodel_config
from virtmodel.machine.boards.virt.cmdline import parse_argv, read_command_line
from virtmodel.machine.boards.virt.versions import MACHINE_TYPES
from virtmodel.machine.errors import ConfigError, HelpRequested

#: One case per option QEMU merges, replaces or refuses when repeated.
REPEATED = {
    "machine-merges": "-M virt,gic-version=3 -M its=off",
    "machine-later-key-wins": "-M virt,its=off -M its=on,gic-version=3",
    "machine-key-twice-in-one": "-M virt,gic-version=3,gic-version=2",
    "machine-type-replaced": "-M virt -M virt-7.2,gic-version=3",
    "machine-alias-spelling": "-machine virt -M gic-version=3 -machine its=off",
    "smp-merges": "-M virt -smp 4 -smp sockets=2",
    "smp-later-cpus-wins": "-M virt -smp 4 -smp 8",
    "smp-key-twice-in-one": "-M virt -smp 4,cpus=2",
    "smp-maxcpus-added": "-M virt -smp cpus=2 -smp maxcpus=4",
    "m-merges": "-M virt -m 1G -m maxmem=4G,slots=2",
    "m-slots-without-maxmem": "-M virt -m 1G -m slots=2",
    "m-later-size-wins": "-M virt -m 1G -m 2G",
    "m-key-twice-in-one": "-M virt -m 1G,size=2G",
    "cpu-replaced": "-M virt -cpu max -cpu cortex-a53",
    "cpu-props-not-merged": "-M virt -cpu max,pmu=off -cpu max",
    "cpu-prop-twice-last-wins": "-M virt -cpu max,pmu=off,pmu=on",
    "accel-first-wins": "-M virt -accel tcg -accel tcg,thread=single",
    "accel-unknown-falls-back": "-M virt -accel bogus -accel tcg",
    "accel-only-unknown": "-M virt -accel bogus",
    "accel-with-machine-accel": "-M virt,accel=tcg -accel tcg",
    "machine-accel-list": "-M virt,accel=bogus:tcg",
    "enable-kvm-then-accel": "-M virt -enable-kvm -accel tcg",
    "kernel-twice-last-wins": "-M virt -kernel {img} -kernel {img2}",
    "append-twice-last-wins": "-M virt -kernel {img} -append a=1 -append b=2",
    "nographic-overrides-graphics": "-M virt,graphics=bogus -nographic",
    "smp-then-machine-smp": "-M virt -smp 4 -M smp.cpus=2",
    "machine-smp-then-smp": "-M virt,smp.cpus=2 -smp 4",
    "machine-smp-sockets": "-M virt,smp.cpus=4,smp.sockets=2",
    "machine-smp-unknown": "-M virt,smp.cpus=2,smp.foo=2",
    "machine-memory-size": "-M virt,memory.size=1G",
    "m-over-machine-memory": "-M virt -m 2G -M memory.size=1G",
    "machine-memory-then-m": "-M virt,memory.size=1G -m 2G",
    "machine-memory-and-m-keys": "-M virt,memory.size=1G -m maxmem=4G,slots=2",
    "machine-memory-hotplug": "-M virt,memory.size=1G,memory.slots=2,memory.max-size=4G",
}

#: Options QEMU accepts that change no device tree, and values it refuses.
ACCEPTED = {
    "ignored-machine-props": (
        "-M virt,graphics=off,usb=on,mem-merge=off,dump-guest-core=off,"
        "suppress-vmdesc=on,dt-compatible=foo"
    ),
    "bad-usb": "-M virt,usb=maybe",
    "bad-mem-merge": "-M virt,mem-merge=2",
    "display-serial-monitor": "-M virt -display none -serial null -monitor none",
    "net-none": "-M virt -net none -nic none",
    "tcg-thread-single": "-M virt -accel tcg,thread=single",
    "tcg-thread-multi": "-M virt -accel tcg,thread=multi,tb-size=64",
    "tcg-thread-bogus": "-M virt -accel tcg,thread=bogus",
    "tcg-kernel-irqchip": "-M virt -accel tcg,kernel-irqchip=on",
    "cpu-pmu-off": "-M virt -cpu max,pmu=off",
    "cpu-pmu-off-a57": "-M virt -cpu cortex-a57,pmu=off",
    "cpu-pmu-off-a15": "-M virt -cpu cortex-a15,pmu=off",
    "cpu-pmu-yes": "-M virt -cpu max,pmu=yes",
    "cpu-pmu-bogus": "-M virt -cpu max,pmu=bogus",
    "cpu-sve-off": "-M virt -cpu max,sve=off",
    "cpu-neutral": "-M virt -cpu max,pauth=on,pauth-impdef=on,lpa2=off,sme=off",
    "cpu-pauth-impdef-alone": "-M virt -cpu max,pauth=off,pauth-impdef=on",
    "cpu-sve-a57": "-M virt -cpu cortex-a57,sve=off",
    "cpu-sve-a64fx": "-M virt -cpu a64fx,sve=off",
    "cpu-prop-without-value": "-M virt -cpu max,pmu",
    "cpu-prop-unknown": "-M virt -cpu cortex-a57,foo=on",
}


#: Options that change the tree: boot images and the modelled -device types.
TREE_CHANGING = {
    "kernel": "-M virt -kernel {img}",
    "kernel-initrd-append": "-M virt -kernel {img} -initrd {rd} -append console=ttyAMA0",
    "kernel-initrd-small-ram": "-M virt -cpu max -kernel {img} -initrd {rd} -m 256M",
    "kernel-el2": "-M virt,virtualization=on -cpu max -kernel {img}",
    "kernel-secure": "-M virt,secure=on -cpu max -kernel {img}",
    "kernel-missing": "-M virt -kernel {missing}",
    "initrd-without-kernel": "-M virt -initrd {rd}",
    "initrd-missing": "-M virt -kernel {img} -initrd {missing}",
    "append-without-kernel": "-M virt -append x",
    "bios-acpi-ged": "-M virt -cpu max -bios {bios}",
    "bios-and-kernel": "-M virt -cpu max -bios {bios} -kernel {img}",
    "bios-kernel-initrd": "-M virt -cpu max -bios {bios} -kernel {img} -initrd {rd} -append a",
    "bios-acpi-off": "-M virt,acpi=off -cpu max -bios {bios}",
    "bios-32bit": "-M virt -cpu cortex-a15 -bios {bios}",
    "bios-secure": "-M virt,secure=on -cpu max -bios {bios}",
    "bios-missing": "-M virt -bios {missing}",
    "viommu": "-M virt -device virtio-iommu-pci",
    "viommu-slot3": "-M virt -device virtio-iommu-pci,addr=0x3",
    "viommu-fn2": "-M virt -device virtio-iommu-pci,addr=1.2,id=x,bus=pcie.0",
    "viommu-slot0": "-M virt -device virtio-iommu-pci,addr=0x0",
    "viommu-slot32": "-M virt -device virtio-iommu-pci,addr=20",
    "viommu-bad-bus": "-M virt -device virtio-iommu-pci,bus=pcie.1",
    "viommu-bad-prop": "-M virt -device virtio-iommu-pci,bogus=1",
    "viommu-with-smmu": "-M virt,iommu=smmuv3 -device virtio-iommu-pci",
    "viommu-twice": "-M virt -device virtio-iommu-pci -device virtio-iommu-pci",
    "viommu-bypass": "-M virt,default-bus-bypass-iommu=on -device virtio-iommu-pci",
    "viommu-gicv3": "-M virt,gic-version=3 -smp 4 -device virtio-iommu-pci",
    "loader-kernel": "-M virt -device guest-loader,addr=0x50000000,kernel={img},bootargs=a",
    "loader-two": (
        "-M virt -device guest-loader,addr=0x50000000,initrd={rd} "
        "-device guest-loader,addr=0x48000000,kernel={img}"
    ),
    "loader-low-addr": "-M virt -device guest-loader,addr=0x5000,kernel={img}",
    "loader-no-addr": "-M virt -device guest-loader,kernel={img}",
    "loader-no-blob": "-M virt -device guest-loader,addr=0x50000000",
    "loader-both": "-M virt -device guest-loader,addr=0x5000,kernel={img},initrd={rd}",
    "loader-initrd-args": "-M virt -device guest-loader,addr=0x5000,initrd={rd},bootargs=x",
    "loader-missing": "-M virt -device guest-loader,addr=0x5000,kernel={missing}",
    "loader-same-addr": (
        "-M virt -device guest-loader,addr=0x5000,kernel={img} "
        "-device guest-loader,addr=0x5000,kernel={img}"
    ),
    "devices-and-boot": (
        "-M virt,gic-version=3 -device virtio-iommu-pci "
        "-device guest-loader,addr=0x50000000,kernel={img} -kernel {img} -append x"
    ),
    "unmodelled-device": "-M virt -device e1000",
    "numa-two-nodes-dist": (
        "-M virt -smp 4 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0-1,nodeid=0 -numa node,memdev=m1,cpus=2-3,nodeid=1 -numa dist,src=0,dst=1,val=20"
    ),
    "numa-partial-cpus": (
        "-M virt,gic-version=3 -smp 8,sockets=2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0-3,cpus=6 -numa node,memdev=m1"
    ),
    "numa-default-by-socket": (
        "-M virt,gic-version=3 -smp 8,sockets=4 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0 -numa node,memdev=m1"
    ),
    "numa-memory-not-ram": (
        "-M virt -smp 4 -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0"
    ),
    "numa-no-memory": ("-M virt -smp 2 -m 1G -numa node -numa node"),
    "numa-memoryless-node": (
        "-M virt -m 1G -object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0 -numa node"
    ),
    "numa-id-gap": (
        "-M virt -m 1G -object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0,nodeid=1"
    ),
    "numa-mem-refused": (
        "-M virt -m 1G -object memory-backend-ram,id=m0,size=1G -numa node,mem=1G"
    ),
    "numa-local-not-10": (
        "-M virt -smp 2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0 -numa node,memdev=m1,cpus=1 -numa dist,src=0,dst=0,val=11"
    ),
    "numa-dist-below-10": (
        "-M virt -smp 2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0 -numa node,memdev=m1,cpus=1 -numa dist,src=0,dst=1,val=9"
    ),
    "numa-asymmetric": (
        "-M virt,gic-version=3 -smp 8,sockets=2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0 -numa node,memdev=m1 -numa dist,src=0,dst=1,val=30 -numa dist,src=1,dst=0,val=40"
    ),
    "numa-cpu-beyond-maxcpus": (
        "-M virt -smp 2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0-2 -numa node,memdev=m1"
    ),
    "numa-dist-unknown-node": (
        "-M virt -smp 2 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0,cpus=0 -numa node,memdev=m1 -numa dist,src=0,dst=2,val=20"
    ),
    "numa-missing-pair": (
        "-M virt -m 3G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -object memory-backend-ram,id=m2,size=1G -numa node,memdev=m0 -numa node,memdev=m1 -numa node,memdev=m2 -numa dist,src=0,dst=1,val=20"
    ),
    "numa-three-memfd": (
        "-M virt -m 3G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -object memory-backend-memfd,id=m2,size=1G -numa node,memdev=m0 -numa node,memdev=m1 -numa node,memdev=m2 -numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=20 -numa dist,src=1,dst=2,val=25"
    ),
    "numa-hotplug": (
        "-M virt,gic-version=3 -smp 4 -m 2G,slots=2,maxmem=4G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0 -numa node,memdev=m1"
    ),
    "numa-kernel-initrd": (
        "-M virt -kernel {img} -initrd {rd} -smp 4 -m 2G -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G -numa node,memdev=m0 -numa node,memdev=m1"
    ),
}


@pytest.fixture
def images(tmp_path: Path) -> dict[str, str]:
    blobs = {"img": 4096, "img2": 8192, "rd": 300000, "bios": 65536}
    paths = {}
    for name, size in blobs.items():
        path = tmp_path / name
        path.write_bytes(bytes([len(name)]) * size)
        paths[name] = str(path)
    paths["missing"] = str(tmp_path / "missing")
    return paths


@pytest.mark.external
@pytest.mark.parametrize(
    "text",
    [*REPEATED.values(), *ACCEPTED.values(), *TREE_CHANGING.values()],
    ids=[*REPEATED, *ACCEPTED, *TREE_CHANGING],
)
def test_virtmodel_and_qemu_agree(
    text: str, images: dict[str, str], tmp_path: Path
) -> None:
    argv = text.format(**images).split()

    assert compare(argv, tmp_path) is None


def test_repeated_machine_options_merge() -> None:
    config = virtmodel_config(["-M", "virt,gic-version=3", "-M", "its=off"])

    assert (config.gic_version, config.its) == (3, False)
    assert config.warnings == ()


def test_repeated_smp_merges_keys_instead_of_replacing() -> None:
    config = virtmodel_config(["-smp", "4", "-smp", "sockets=2"])

    assert (config.cpus, config.smp.sockets, config.smp.cores) == (4, 2, 2)


def test_repeated_memory_merges_and_checks_the_merged_keys() -> None:
    config = virtmodel_config(["-m", "1G", "-m", "maxmem=4G,slots=2"])
    assert (config.ram_size, config.maxram_size, config.ram_slots) == (
        1 << 30,
        4 << 30,
        2,
    )
    with pytest.raises(ConfigError, match="slots"):
        virtmodel_config(["-m", "1G", "-m", "slots=2"])


def test_cpu_is_replaced_whole() -> None:
    config = virtmodel_config(["-cpu", "max,pmu=off", "-cpu", "cortex-a53"])

    assert (config.cpu_type, config.cpu_props, config.has_pmu) == (
        "cortex-a53",
        (),
        True,
    )


def test_pmu_off_drops_the_pmu_and_round_trips() -> None:
    config = virtmodel_config(["-cpu", "max,pmu=off,sve=off"])

    assert not config.has_pmu
    assert "max,pmu=off,sve=off" in config.to_qemu_args()


def test_accelerators_are_tried_in_order() -> None:
    line = read_command_line(
        parse_argv(["-accel", "hvf", "-accel", "kvm", "-accel", "tcg"])
    )
    config = virtmodel_config(
        ["-accel", "hvf", "-accel", "kvm", "-accel", "tcg", "-cpu", "max"]
    )

    assert config.accel == "kvm"
    assert len(line.accels) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-M virt,accel=tcg -accel tcg", "incompatible"),
        ("-enable-kvm -accel tcg", "incompatible"),
        ("-accel kvm,kernel-irqchip=split", "split"),
        ("-accel kvm,kernel-irqchip=off", "not modelled"),
        ("-accel tcg,kernel-irqchip=on", "no property 'kernel-irqchip'"),
        ("-nic user", "network devices are not modelled"),
        ("-cpu cortex-a57,has_el3=off", "not modelled"),
        ("-floppy x", "not modelled"),
        ("-dtb x.dtb", "cannot load .x.dtb."),
    ],
)
def test_refusals_name_their_reason(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        virtmodel_config(text.split())


def test_enable_kvm_and_machine_accel_merge_in_order() -> None:
    assert virtmodel_config(["-enable-kvm", "-M", "accel=tcg"]).accel == "tcg"
    assert (
        virtmodel_config(["-M", "accel=tcg", "-enable-kvm", "-cpu", "max"]).accel
        == "kvm"
    )
    assert (
        virtmodel_config(["-accel", "kvm,kernel-irqchip=on", "-cpu", "max"]).accel
        == "kvm"
    )


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("-M help", "Supported machines are:"),
        ("-M virt,help", "virt-7.2-machine options:"),
        ("-cpu help", "Available CPUs:"),
        ("-device help", "Devices virtmodel models:"),
        ("-accel help", "Accelerators supported in QEMU binary:"),
    ],
)
def test_help_values_list_what_is_modelled(text: str, first_line: str) -> None:
    with pytest.raises(HelpRequested) as exc:
        read_command_line(parse_argv(text.split()))

    assert exc.value.text.splitlines()[0] == first_line
    assert len(exc.value.text.splitlines()) > 1


def test_devices_round_trip_through_the_qemu_arguments(images: dict[str, str]) -> None:
    text = (
        "-M virt -device virtio-iommu-pci,addr=3.1 "
        "-device guest-loader,addr=0x50000000,kernel={img},bootargs=a"
    )
    config = virtmodel_config(text.format(**images).split())
    again = virtmodel_config(config.to_qemu_args())

    assert again == config
    assert config.virtio_iommu == 3 << 3 | 1
    assert config.guest_loaders[0].size == 4096


#: A few machines each versioned type is compared on.
TYPE_CONFIGS = {
    "v2-max-smp4": "-smp 4 -cpu max",
    "v3-smp20": "-M gic-version=3 -smp 20 -cpu max",
    "secure-virt": "-M secure=on,virtualization=on -cpu max -smp 2",
    "bios": "-cpu max -bios {bios}",
    "v3-hotplug-sockets": "-M gic-version=3 -m 1G,slots=2,maxmem=8G -smp 8,sockets=2",
    "smmu-a57": "-M iommu=smmuv3,highmem=off -cpu cortex-a57 -smp 8",
    "smp-prefers": "-smp 6 -M gic-version=3",
}


@pytest.mark.external
@pytest.mark.parametrize("config", TYPE_CONFIGS.values(), ids=list(TYPE_CONFIGS))
@pytest.mark.parametrize("machine_type", MACHINE_TYPES)
def test_every_machine_type_gives_qemus_tree(
    machine_type: str, config: str, images: dict[str, str], tmp_path: Path
) -> None:
    argv = ["-M", machine_type, *config.format(**images).split()]

    assert compare(argv, tmp_path) is None


@pytest.mark.parametrize(
    ("machine_type", "cpu_map", "its", "secure_gpio", "ged", "pmu"),
    [
        ("virt", True, True, True, True, True),
        ("virt-6.2", True, True, True, True, True),
        ("virt-6.1", False, False, True, True, True),
        ("virt-5.2", False, False, False, True, True),
        ("virt-4.1", False, False, False, False, True),
        ("virt-2.6", False, False, False, False, False),
    ],
)
def test_older_types_keep_their_release_behaviour(
    machine_type: str, cpu_map: bool, its: bool, secure_gpio: bool, ged: bool, pmu: bool
) -> None:
    argv = ["-M", f"{machine_type},gic-version=3,secure=on", "-cpu", "max", "-smp", "4"]
    config = virtmodel_config(argv)
    ged_config = virtmodel_config(
        ["-M", machine_type, "-cpu", "max", "-bios", "/dev/null"]
    )

    assert config.compat.cpu_topology is cpu_map
    assert config.has_its is its
    assert config.has_secure_gpio is secure_gpio
    assert ged_config.uses_acpi_ged is ged
    assert config.has_pmu is pmu


def test_types_before_6_2_fill_sockets_first() -> None:
    old = virtmodel_config(["-M", "virt-6.1", "-smp", "4"])
    new = virtmodel_config(["-M", "virt-6.2", "-smp", "4"])

    assert (old.smp.sockets, old.smp.cores) == (4, 1)
    assert (new.smp.sockets, new.smp.cores) == (1, 4)
    assert virtmodel_config(old.to_qemu_args()) == old


def test_numa_round_trips_and_warns_about_partial_mappings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from virtmodel.machine.cli.main import main

    text = (
        "-smp 4 -m 2G -object memory-backend-ram,id=a,size=1G "
        "-object memory-backend-ram,id=b,size=1G "
        "-numa node,memdev=a,cpus=0 -numa node,memdev=b,cpus=3 "
        "-numa dist,src=0,dst=1,val=20"
    )
    config = virtmodel_config(text.split())
    assert virtmodel_config(config.to_qemu_args()) == config
    assert main(["dts", *text.split()]) == 0
    err = capsys.readouterr().err
    assert "CPU(s) 1, 2 are in no NUMA node and go to node 0" in err
