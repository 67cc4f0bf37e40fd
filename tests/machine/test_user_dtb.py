"""``-dtb FILE``: the user's blob, edited as QEMU 7.2's ``arm_load_dtb`` edits it.

The live tests hand the same blob and options to virtmodel and to
``qemu-system-aarch64 -M dumpdtb=...`` and compare the bytes (and the refusals
both ways); the blobs come from dtc, from virtmodel itself and from a hand-laid
blob whose blocks are out of libfdt's order.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.machine.qemu_cmdline import compare, virtmodel_config
from virtmodel.machine.boards.virt.board import VirtBoard, boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb
from virtmodel.machine.boards.virt.userdtb import dtb_buffer_size
from virtmodel.machine.cli.main import main
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.fdt import Fdt, FdtBlob

SOURCES = {
    # /chosen and /psci of its own; one memory node, the first subnode.
    "small": """/dts-v1/;
/ { #address-cells = <2>; #size-cells = <2>; compatible = "test,board";
  memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x1000000>; };
  chosen { stdout-path = "/uart"; };
  psci { compatible = "arm,psci"; };
  uart { compatible = "arm,pl011"; };
};
""",
    # Several memory nodes, one nested under /memory-controller (its path
    # starts with /memory, so QEMU removes it too), one under /soc (kept), a
    # reservation, and a psci@0 that "/psci" matches.
    "multi": """/dts-v1/;
/memreserve/ 0x48000000 0x1000;
/ { #address-cells = <2>; #size-cells = <2>; model = "several memories";
  psci@0 { compatible = "arm,psci-0.2"; method = "smc"; };
  memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x1000000>; };
  soc { #address-cells = <1>; #size-cells = <1>; memory@0 { reg = <0 0x100>; }; };
  memory-controller { memory@1 { reg = <0 0 0 0x100>; }; };
  memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x1000000>; };
  memory { device_type = "memory"; };
};
""",
    # Boot properties QEMU resizes in place, and a /psci with a subtree.
    "chosen": """/dts-v1/;
/ { #address-cells = <2>; #size-cells = <2>;
  chosen { bootargs = "an existing command line, longer than the new one";
    linux,initrd-start = <0 0x1>; linux,initrd-end = <0 0x2>; };
  psci { compatible = "x"; sub { a = <1>; }; };
  memory@0 { device_type = "memory"; };
};
""",
    # No /chosen (QEMU adds one) and one-cell addresses and sizes.
    "tiny": """/dts-v1/;
/ { #address-cells = <1>; #size-cells = <1>; compatible = "tiny"; };
""",
}
REFUSED_SOURCES = {
    # QEMU removes memory@0 first and then cannot find memory@0/memory@1.
    "nested": "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
    "  memory@0 { memory@1 { }; }; };\n",
    "cells3": "/dts-v1/;\n/ { #address-cells = <3>; #size-cells = <2>; };\n",
    "nocells": "/dts-v1/;\n/ { #size-cells = <2>; };\n",
}
BOOT = ("-append", "root=/dev/vda console=ttyAMA0")


def _dtc(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    dtc = require_tool("dtc", "device-tree-compiler")
    src, out = tmp_path / f"{name}.dts", tmp_path / f"{name}.dtb"
    src.write_text(source)
    subprocess.run([dtc, "-q", *flags, "-O", "dtb", "-o", out, src], check=True)
    return out


def _misordered(tmp_path: Path) -> Path:
    """A blob with its strings before its structure, and bytes past its end."""
    packed = Fdt.from_dtb(build_virt_dtb(VirtConfig()).to_dtb()).to_dtb(None)
    magic, _, off_struct, off_strings, *_, size_strings, size_struct = (
        struct.unpack_from(">10I", packed)
    )
    body = (
        bytes(24)
        + packed[off_strings : off_strings + size_strings]
        + bytes(4)
        + packed[off_struct : off_struct + size_struct]
    )
    header = struct.pack(
        ">10I",
        magic,
        40 + len(body) + 64,
        40 + 24 + size_strings + 4,
        40 + 24,
        48,
        17,
        16,
        3,
        size_strings,
        size_struct,
    )
    path = tmp_path / "misordered.dtb"
    path.write_bytes(header + body + b"\xaa" * 64 + b"\x55" * 100)
    return path


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    path = tmp_path / "Image"
    path.write_bytes(bytes(4096))  # QEMU loads any file as a raw image
    return path


@pytest.fixture
def initrd(tmp_path: Path) -> Path:
    path = tmp_path / "initrd.img"
    path.write_bytes(b"\x07" * 300_000)
    return path


def _blobs(tmp_path: Path) -> dict[str, Path]:
    blobs = {name: _dtc(tmp_path, name, src) for name, src in SOURCES.items()}
    blobs["v16"] = _dtc(tmp_path, "v16", SOURCES["small"], "-V", "16")
    blobs["padded"] = _dtc(tmp_path, "padded", SOURCES["multi"], "-p", "4096")
    own = tmp_path / "own.dtb"
    own.write_bytes(build_virt_dtb(VirtConfig(gic_version=3, smp="2")).to_dtb())
    blobs["own"] = own
    blobs["misordered"] = _misordered(tmp_path)
    # QEMU's own dump of an edited blob: NOP tokens in the input.
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    dump = tmp_path / "requeued.dtb"
    subprocess.run(
        [qemu, "-M", f"virt,dumpdtb={dump}", "-dtb", blobs["multi"], "-nodefaults"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    blobs["requeued"] = dump
    return blobs


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("-M", "gic-version=3", "-smp", "4", "-m", "3G"),
        ("-M", "virtualization=on"),
        ("-M", "secure=on", "-bios", "KERNEL"),
        ("-cpu", "cortex-a15", "-m", "5G"),
        ("-kernel", "KERNEL", *BOOT),
        ("-kernel", "KERNEL", "-initrd", "INITRD", *BOOT),
        (
            "-object",
            "memory-backend-ram,id=m0,size=64M",
            "-object",
            "memory-backend-ram,id=m1,size=64M",
            "-numa",
            "node,memdev=m0",
            "-numa",
            "node,memdev=m1",
        ),
    ],
    ids=["plain", "v3_3g", "el2", "secure_bios", "a15_5g", "kernel", "initrd", "numa"],
)
def test_user_blob_is_edited_byte_for_byte_as_qemu_edits_it(
    tmp_path: Path, kernel: Path, initrd: Path, extra: tuple[str, ...]
) -> None:
    files = {"KERNEL": str(kernel), "INITRD": str(initrd)}
    args = [files.get(a, a) for a in extra]
    failures = []
    for name, blob in _blobs(tmp_path).items():
        why = compare(["-M", "virt", "-dtb", str(blob), *args], tmp_path)
        if why is not None:
            failures.append(f"{name}: {why}")
    assert not failures, "\n".join(failures)


def test_bad_blobs_are_refused_by_both(tmp_path: Path) -> None:
    bad = {name: _dtc(tmp_path, name, src) for name, src in REFUSED_SOURCES.items()}
    small = _dtc(tmp_path, "small", SOURCES["small"])
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 2)
    (tmp_path / "trunc.dtb").write_bytes(small.read_bytes()[:200])
    bad["junk"], bad["trunc"] = tmp_path / "junk.bin", tmp_path / "trunc.dtb"
    bad["missing"] = tmp_path / "missing.dtb"
    runs = {name: ["-M", "virt", "-dtb", str(path)] for name, path in bad.items()}
    tiny = _dtc(tmp_path, "tiny", SOURCES["tiny"])
    runs["4g_in_1_cell"] = ["-M", "virt", "-dtb", str(tiny), "-m", "5G"]
    # NUMA memory above 4 GiB does not fit one address cell.
    runs["numa_high"] = [
        *("-M", "virt", "-dtb", str(tiny), "-m", "6G"),
        *("-object", "memory-backend-ram,id=m0,size=4G"),
        *("-object", "memory-backend-ram,id=m1,size=2G"),
        *("-numa", "node,memdev=m0", "-numa", "node,memdev=m1"),
    ]
    disagreements = [
        f"{name}: {why}"
        for name, argv in runs.items()
        if (why := compare(argv, tmp_path)) is not None
    ]
    assert not disagreements, "\n".join(disagreements)
    for argv in runs.values():
        with pytest.raises(ConfigError):
            virtmodel_config(argv)


@pytest.mark.parametrize("name", ["small", "multi"])
def test_dts_of_the_edited_blob_is_what_dtc_prints_of_qemus(
    tmp_path: Path, kernel: Path, initrd: Path, name: str
) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    dtc = require_tool("dtc", "device-tree-compiler")
    blob = _dtc(tmp_path, name, SOURCES[name])
    argv = ["-M", "virt,dtb-randomness=off", "-dtb", str(blob), "-kernel", str(kernel)]
    argv += ["-initrd", str(initrd), *BOOT]
    dump = tmp_path / "qemu.dtb"
    subprocess.run(
        [qemu, *argv, "-nodefaults", "-nographic", "-M", f"dumpdtb={dump}"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    theirs = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", dump],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert build_virt_dtb(virtmodel_config(argv)).to_dts() == theirs


# -- without QEMU ------------------------------------------------------------------


def test_the_dump_is_the_whole_load_buffer_with_memory_and_psci(tmp_path: Path) -> None:
    blob_in = Fdt()
    blob_in.setprop_cells("/", "#address-cells", 2)
    blob_in.setprop_cells("/", "#size-cells", 2)
    blob_in.add_subnode("/memory@0")
    blob_in.setprop_string("/memory@0", "device_type", "memory")
    path = tmp_path / "in.dtb"
    path.write_bytes(blob_in.to_dtb(None))
    config = VirtConfig(dtb=str(path))
    out = build_virt_dtb(config)
    assert isinstance(out, FdtBlob)
    data = out.to_dtb()
    assert len(data) == dtb_buffer_size(path.stat().st_size)
    assert struct.unpack_from(">I", data, 4)[0] == len(data)
    nodes = [p for _, p in out.walk()]
    assert nodes == ["/", "/psci", "/chosen", "/memory@40000000"]
    assert out.getprop("/memory@40000000", "reg") == struct.pack(
        ">4I", 0, 0x40000000, 0, config.ram_size
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot load"),
        (b"not a device tree at all, just text\n" * 3, "bad magic"),
        ("truncated", "its header says"),
    ],
)
def test_bad_dtb_is_one_error_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, says: str
) -> None:
    path = tmp_path / "user.dtb"
    if content == "truncated":
        good = Fdt()
        good.add_subnode("/chosen")
        good.setprop_cells("/", "#address-cells", 2)
        path.write_bytes(good.to_dtb(None)[:60])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    for command in (["dtb", "-o", str(tmp_path / "out.dtb")], ["dts"], ["run"]):
        assert main([*command, "-M", "virt", "-dtb", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert str(path) in err
        assert says in err
        assert "Traceback" not in err
    assert not (tmp_path / "out.dtb").exists()


def test_run_gives_the_guest_the_edited_blob(tmp_path: Path) -> None:
    source = Fdt()
    source.setprop_cells("/", "#address-cells", 2)
    source.setprop_cells("/", "#size-cells", 2)
    source.add_subnode("/psci")
    path = tmp_path / "in.dtb"
    path.write_bytes(source.to_dtb(None))
    config = VirtConfig(dtb=str(path), gic_version=3, smp="2")
    machine = boot_virt(create_virt(config))
    board = machine.board
    assert isinstance(board, VirtBoard)

    assert board.dtb == build_virt_dtb(config).to_dtb()
    assert board.dtb is not None
    assert len(board.dtb) == dtb_buffer_size(path.stat().st_size)
