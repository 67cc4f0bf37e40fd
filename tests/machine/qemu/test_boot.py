"""Booting Debian's arm64 kernel on our device tree, and every way that can fail."""

from __future__ import annotations

import gzip
import os
import stat
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ASSETS, require_file, require_tool
from tests.machine.qemu.test_process import live_group_members
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb
from virtmodel.machine.errors import MachineError
from virtmodel.machine.fdt import Fdt
from virtmodel.machine.qemu.boot import (
    MAX_DTB_FILE_SIZE,
    BootError,
    QemuMachine,
    boot,
    check_kernel,
    pack_fdt,
    qemu_command,
)
from virtmodel.machine.qemu.initramfs import parse_facts, probe_initramfs

QEMU = "qemu-system-aarch64"
#: Enough of an arm64 Image header for the magic check (QEMU is never reached).
FAKE_IMAGE = bytes(0x38) + b"ARM\x64" + bytes(8)
A57 = QemuMachine("virt,gic-version=3,its=on", cpu="cortex-a57", smp="2", memory="512M")


def small_tree() -> Fdt:
    tree = Fdt()
    tree.setprop_string("/", "compatible", "linux,dummy-virt")
    tree.add_subnode("/chosen")
    tree.setprop_string("/chosen", "stdout-path", "/pl011@9000000")
    return tree


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "Image"
    path.write_bytes(FAKE_IMAGE)
    return path


# -- fetching the assets -----------------------------------------------------------

FETCH = Path(__file__).parents[3] / ".ci" / "fetch-arm64-assets"


@pytest.mark.external
def test_fetch_script_does_nothing_when_the_assets_are_there() -> None:
    require_file(ASSETS / "vmlinuz", "Debian's arm64 kernel")
    require_file(ASSETS / "busybox", "Debian's static arm64 busybox")

    done = subprocess.run(
        ["bash", str(FETCH)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "VIRTMODEL_ASSETS": str(ASSETS)},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(
        "already has vmlinuz, Image and busybox; nothing to do\n"
    )
    check_kernel(ASSETS / "Image")
    assert (ASSETS / "busybox").read_bytes()[:4] == b"\x7fELF"


# -- the kernel check ---------------------------------------------------------------


def test_raw_and_gzipped_arm64_images_are_accepted(tmp_path: Path, image: Path) -> None:
    zipped = tmp_path / "vmlinuz.gz"
    zipped.write_bytes(gzip.compress(FAKE_IMAGE))

    check_kernel(image)
    check_kernel(zipped)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (
            b"\x7fELF" + bytes(100),
            "is not an arm64 Image (no 'ARM\\x64' at 0x00000038)",
        ),
        (b"", "is not an arm64 Image"),
        (gzip.compress(b"not a kernel"), "is not an arm64 Image"),
        (
            b"MZ\0\0zimg" + bytes(100),
            "is an EFI zboot image, which qemu 7.2 cannot load",
        ),
        (b"\x1f\x8b" + bytes(10), "cannot be read"),
    ],
)
def test_files_that_are_not_arm64_images_are_refused_by_name(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    kernel = tmp_path / "kernel"
    kernel.write_bytes(content)

    with pytest.raises(BootError, match=r"kernel '.*kernel' ") as excinfo:
        check_kernel(kernel)

    assert fragment in excinfo.value.reason


def test_missing_kernel_is_reported_by_path(tmp_path: Path) -> None:
    with pytest.raises(BootError, match="cannot be read: No such file or directory"):
        check_kernel(tmp_path / "nope")


# -- packing the device tree --------------------------------------------------------


def test_padded_tree_packs_to_its_real_size_with_the_same_content() -> None:
    tree = small_tree()
    padded = tree.to_dtb()

    packed = pack_fdt(padded)

    assert len(padded) == 0x100000
    assert struct.unpack_from(">I", packed, 4)[0] == len(packed) < 512
    assert Fdt.from_dtb(packed).to_dts() == tree.to_dts()
    assert pack_fdt(packed) == packed
    assert pack_fdt(tree.to_dtb(totalsize=None)) == packed


def test_packed_tree_is_read_by_dtc(tmp_path: Path) -> None:
    dtc = require_tool("dtc", "device-tree-compiler")
    blob = tmp_path / "packed.dtb"
    blob.write_bytes(pack_fdt(small_tree().to_dtb()))

    out = subprocess.run(
        [dtc, "-I", "dtb", "-O", "dts", str(blob)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout

    assert 'stdout-path = "/pl011@9000000";' in out


def _corrupt(offset: int, value: int) -> bytes:
    blob = bytearray(small_tree().to_dtb())
    struct.pack_into(">I", blob, offset, value)
    return bytes(blob)


@pytest.mark.parametrize(
    ("blob", "fragment"),
    [
        (b"\xd0\x0d", "dtb: 2 bytes is too short for a header"),
        (_corrupt(0, 0x12345678), "dtb: bad magic 0x12345678"),
        (_corrupt(20, 16), "dtb: version 16 is older than 17"),
        (
            _corrupt(36, 0x200000),
            "dtb: struct block [0x00000040, 0x00200040) lies outside",
        ),
        (_corrupt(32, 0x200000), "dtb: strings block"),
        (_corrupt(36, 8), "dtb struct block does not end with the FDT_END token"),
        (bytes(small_tree().to_dtb())[:0x40], "lies outside the blob"),
    ],
)
def test_broken_trees_are_refused_with_the_part_at_fault(
    blob: bytes, fragment: str
) -> None:
    with pytest.raises(BootError) as excinfo:
        pack_fdt(blob)

    assert fragment in excinfo.value.reason


def test_unterminated_reservation_map_is_refused() -> None:
    blob = bytearray(small_tree().to_dtb(totalsize=None))
    # Fill the reservation map and everything after it with non-zero entries.
    blob[0x30:] = b"\x01" * (len(blob) - 0x30)

    with pytest.raises(
        BootError, match="reservation map at 0x00000030 has no terminating"
    ):
        pack_fdt(bytes(blob))


# -- the command line ---------------------------------------------------------------


def test_command_line_has_machine_console_dtb_and_boot_images(tmp_path: Path) -> None:
    dtb, kernel, initrd = tmp_path / "x.dtb", tmp_path / "Image", tmp_path / "rd"

    command = qemu_command(
        A57,
        qemu="qemu",
        dtb=dtb,
        kernel=kernel,
        append="console=ttyAMA0",
        initrd=initrd,
    )

    assert command == [
        "qemu", "-M", "virt,gic-version=3,its=on", "-cpu", "cortex-a57", "-smp", "2",
        "-m", "512M", "-accel", "tcg", "-nodefaults", "-nographic", "-serial", "stdio",
        "-no-reboot", "-dtb", str(dtb), "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "console=ttyAMA0",
    ]  # fmt: skip


def test_command_line_leaves_out_initrd_and_append_when_not_given(
    tmp_path: Path,
) -> None:
    command = qemu_command(A57, qemu="qemu", dtb=tmp_path / "d", kernel=tmp_path / "k")

    assert "-initrd" not in command
    assert "-append" not in command


@dataclass
class ArgsConfig:
    args: list[str]
    is_armv8: bool = True

    def to_qemu_args(self) -> list[str]:
        return list(self.args)


def test_a_config_that_already_names_the_same_kernel_gets_it_once(
    tmp_path: Path,
) -> None:
    kernel = tmp_path / "Image"
    config = ArgsConfig(["-M", "virt", "-kernel", str(kernel)])

    command = qemu_command(config, qemu="q", dtb=tmp_path / "d", kernel=kernel)

    assert command.count("-kernel") == 1
    assert command[command.index("-kernel") + 1] == str(kernel)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["-M", "virt", "-kernel", "/other"],
            "say -kernel '/other', but boot was given",
        ),
        (
            ["-M", "virt", "-append", "quiet"],
            "say -append 'quiet', but boot was given None",
        ),
        (["-M", "virt", "-dtb", "/x.dtb"], "carry '-dtb', which boot supplies itself"),
        (["-M", "virt", "-bios", "/efi.fd"], "carry '-bios'"),
    ],
)
def test_config_arguments_that_contradict_boot_are_refused(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    with pytest.raises(BootError, match=r"^machine arguments ") as excinfo:
        qemu_command(
            ArgsConfig(args), qemu="q", dtb=tmp_path / "d", kernel=tmp_path / "k"
        )

    assert fragment in excinfo.value.reason


# -- refusing to start --------------------------------------------------------------


def test_boot_error_is_a_machine_error_carrying_its_reason() -> None:
    error = BootError("qemu exited with status 1: boom")

    assert isinstance(error, MachineError)
    assert isinstance(error, RuntimeError)
    assert error.reason == str(error) == "qemu exited with status 1: boom"
    assert error.qemu_status is None


def test_missing_qemu_is_a_clear_error(image: Path) -> None:
    with pytest.raises(
        BootError, match="qemu '/no/such/qemu' is not installed"
    ) as excinfo:
        boot(A57, dtb=small_tree().to_dtb(), kernel=image, qemu="/no/such/qemu")

    assert "qemu-system-arm" in excinfo.value.reason


@pytest.mark.parametrize("timeout", [0, -1.5, float("nan")])
def test_a_timeout_that_is_not_positive_is_refused(image: Path, timeout: float) -> None:
    with pytest.raises(
        BootError, match=r"^timeout .* must be a positive number of seconds$"
    ):
        boot(
            A57,
            dtb=small_tree().to_dtb(),
            kernel=image,
            qemu=sys.executable,
            timeout=timeout,
        )


def test_32_bit_cpu_is_refused_before_qemu_runs(image: Path) -> None:
    config = QemuMachine("virt", cpu="cortex-a15")

    with pytest.raises(BootError, match="cpu 'cortex-a15' is 32-bit"):
        boot(config, dtb=small_tree().to_dtb(), kernel=image, qemu=sys.executable)


def test_missing_kernel_initrd_and_bad_dtb_are_refused_before_qemu_runs(
    tmp_path: Path, image: Path
) -> None:
    dtb = small_tree().to_dtb()

    with pytest.raises(BootError, match=r"kernel '.*nope' cannot be read"):
        boot(A57, dtb=dtb, kernel=tmp_path / "nope", qemu=sys.executable)
    with pytest.raises(BootError, match=r"initrd '.*rd' does not exist"):
        boot(A57, dtb=dtb, kernel=image, initrd=tmp_path / "rd", qemu=sys.executable)
    with pytest.raises(BootError, match="dtb: bad magic"):
        boot(A57, dtb=b"x" * 64, kernel=image, qemu=sys.executable)


def test_tree_too_big_for_the_arm64_kernel_is_refused(image: Path) -> None:
    tree = small_tree()
    tree.setprop("/chosen", "filler", bytes(MAX_DTB_FILE_SIZE))

    with pytest.raises(BootError, match=f"over the {MAX_DTB_FILE_SIZE} that"):
        boot(A57, dtb=tree.to_dtb(totalsize=None), kernel=image, qemu=sys.executable)


# -- a stand-in QEMU that records what it was given ---------------------------------


def fake_qemu(tmp_path: Path, tail: str) -> str:
    record = tmp_path / "record"
    record.mkdir()
    path = tmp_path / "fake-qemu"
    path.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {record}/args\n'
        'while [ $# -gt 0 ]; do\n'
        f'  if [ "$1" = -dtb ]; then cp "$2" {record}/dtb; fi\n'
        "  shift\n"
        "done\n" + tail
    )  # fmt: skip
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_qemu_receives_the_packed_tree_and_the_temporary_copy_is_removed(
    tmp_path: Path, image: Path
) -> None:
    qemu = fake_qemu(tmp_path, "echo 'Booting Linux'\n")
    padded = small_tree().to_dtb()

    result = boot(A57, dtb=padded, kernel=image, qemu=qemu, timeout=10)

    given = (tmp_path / "record/args").read_text().splitlines()
    dtb_path = Path(given[given.index("-dtb") + 1])
    assert (tmp_path / "record/dtb").read_bytes() == pack_fdt(padded)
    assert not dtb_path.exists()
    assert result.console == "Booting Linux\n"
    assert result.ok is True


def test_qemu_failing_raises_with_its_last_message(tmp_path: Path, image: Path) -> None:
    qemu = fake_qemu(tmp_path, "echo 'first' >&2\necho 'qemu: bad thing' >&2\nexit 1\n")

    with pytest.raises(BootError) as excinfo:
        boot(A57, dtb=small_tree().to_dtb(), kernel=image, qemu=qemu, timeout=10)

    assert excinfo.value.reason == "qemu exited with status 1: qemu: bad thing"
    assert excinfo.value.qemu_status == 1


def test_qemu_failing_silently_still_gets_a_one_line_reason(
    tmp_path: Path, image: Path
) -> None:
    qemu = fake_qemu(tmp_path, "exit 7\n")

    with pytest.raises(BootError, match=r"^qemu exited with status 7: no message$"):
        boot(A57, dtb=small_tree().to_dtb(), kernel=image, qemu=qemu, timeout=10)


# -- the real QEMU ------------------------------------------------------------------


@pytest.mark.external
def test_real_qemu_rejecting_an_option_is_reported_in_one_line(image: Path) -> None:
    require_tool(QEMU, "qemu-system-arm")
    config = QemuMachine("virt,no-such-knob=on", cpu="cortex-a57")

    with pytest.raises(BootError, match=r"^qemu exited with status 1: ") as excinfo:
        boot(config, dtb=small_tree().to_dtb(), kernel=image, timeout=30)

    assert "no-such-knob" in excinfo.value.reason
    assert "\n" not in excinfo.value.reason


@pytest.mark.external
@pytest.mark.slow
def test_real_kernel_that_panics_is_stopped_at_its_panic_not_the_timeout() -> None:
    require_tool(QEMU, "qemu-system-arm")
    kernel = require_file(ASSETS / "vmlinuz", "Debian's arm64 kernel")
    config = VirtConfig.from_options("virt,gic-version=3", smp="2", cpu="cortex-a57")
    start = time.monotonic()

    # No initrd and no root disk: the kernel panics and then spins for ever.
    result = boot(
        config, dtb=build_virt_dtb(config).to_dtb(), kernel=kernel,
        append="console=ttyAMA0", timeout=120,
    )  # fmt: skip

    assert time.monotonic() - start < 60
    assert result.timed_out is False
    assert result.ok is False
    assert result.panic is not None
    assert "Kernel panic - not syncing: VFS: Unable to mount root fs" in result.panic
    assert result.reason == f"guest panicked: {result.panic}; qemu was stopped"
    assert live_group_members(result.pid) == []


# -- the guest: what the device tree promised is what Linux found -------------------


@dataclass(frozen=True)
class Promised:
    """What a DTB promises, read from the blob itself."""

    cpus: int
    gic_v3: bool
    its: str | None
    v2m: str | None
    its_path: str | None
    virtio_mmio: int
    uart: str
    rtc: str
    gpio: str


def _mem_range(tree: Fdt, path: str) -> str:
    base, size = struct.unpack(">QQ", tree.getprop(path, "reg")[:16])
    return f"[mem 0x{base:08x}-0x{base + size - 1:08x}]"


def promised(dtb: bytes) -> Promised:
    tree = Fdt.from_dtb(dtb)
    top = [node.name for node in tree.root.children]
    intc = next(name for name in top if name.startswith("intc@"))
    under_intc = [node.name for node in tree.node(f"/{intc}").children]
    its = next((f"/{intc}/{n}" for n in under_intc if n.startswith("its@")), None)
    v2m = next((f"/{intc}/{n}" for n in under_intc if n.startswith("v2m@")), None)
    unit = {n.partition("@")[0]: n.partition("@")[2] for n in top if "@" in n}
    return Promised(
        cpus=sum(n.name.startswith("cpu@") for n in tree.node("/cpus").children),
        gic_v3=tree.getprop(f"/{intc}", "compatible").startswith(b"arm,gic-v3"),
        its=None if its is None else f"ITS {_mem_range(tree, its)}",
        v2m=None if v2m is None else f"GICv2m: range{_mem_range(tree, v2m)}",
        its_path=its,
        virtio_mmio=sum(name.startswith("virtio_mmio@") for name in top),
        uart=unit["pl011"],
        rtc=unit["pl031"],
        gpio=unit["pl061"],
    )


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    busybox = require_file(ASSETS / "busybox", "Debian's static arm64 busybox")
    path = tmp_path_factory.mktemp("initramfs") / "probe.cpio"
    path.write_bytes(probe_initramfs(busybox))
    return path


GUESTS = [
    pytest.param(("virt,gic-version=2", "2", "512M"), id="gicv2-smp2"),
    pytest.param(("virt,gic-version=3,its=on", "4", "512M"), id="gicv3-its-smp4"),
    pytest.param(("virt,gic-version=3,its=off", "2", "256M"), id="gicv3-smp2"),
]


@pytest.mark.external
@pytest.mark.slow
@pytest.mark.parametrize("options", GUESTS)
def test_guest_finds_every_device_the_tree_promised(
    options: tuple[str, str, str], probe: Path
) -> None:
    require_tool(QEMU, "qemu-system-arm")
    kernel = require_file(ASSETS / "vmlinuz", "Debian's arm64 kernel")
    machine, smp, memory = options
    append = "console=ttyAMA0 quiet"
    config = VirtConfig.from_options(
        machine, smp=smp, memory=memory, cpu="cortex-a57",
        kernel=str(kernel), initrd=str(probe), append=append,
    )  # fmt: skip
    # Our own tree, padded to 1 MiB as dumpdtb writes it: boot must pack it.
    dtb = build_virt_dtb(config, seed=1).to_dtb()
    want = promised(dtb)

    result = boot(
        config, dtb=dtb, kernel=kernel, initrd=probe, append=append, timeout=60
    )
    facts = parse_facts(result.console)

    assert (result.exit_status, result.ok) == (0, True), result.reason
    assert want.cpus == config.cpus
    assert facts["dt_cpus"] == str(want.cpus)
    assert facts["cpus_online"] == facts["cpus_possible"] == f"0-{want.cpus - 1}"
    assert facts["irqchips"] == ("GICv3" if want.gic_v3 else "GIC-0")
    assert facts["gic_redistributors"] == str(want.cpus if want.gic_v3 else 0)
    assert facts["its"] == (want.its or "none")
    assert facts["v2m"] == (want.v2m or "none")
    if want.its_path is not None:
        assert facts["pci_msi_domain"] == f"PCI/MSI: {want.its_path} domain created"
    assert facts["console"] == "ttyAMA0"
    assert facts["ttyAMA0"] == "uart-pl011"
    assert facts["rtc0"] == f"rtc-pl031 {want.rtc}.pl031"
    assert facts["amba"].split() == [
        f"{want.uart}.pl011:uart-pl011",
        f"{want.rtc}.pl031:rtc-pl031",
        f"{want.gpio}.pl061:pl061_gpio",
    ]
    assert (
        facts["virtio_mmio_devices"] == facts["dt_virtio_mmio"] == str(want.virtio_mmio)
    )
    assert want.virtio_mmio == 32
    assert facts["pcie_host"] == "pci-host-generic"
    assert facts["pci_host_bridge"] == "0x1b36:0x0008"
    assert facts["gpio_keys"] == facts["fw_cfg"] == "1"
    assert facts["psci"] == "PSCIv1.1"
    assert 0 < int(facts["mem_total_kb"]) * 1024 <= config.ram_size
