from __future__ import annotations

import gzip
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from virtmodel.machine.qemu.initramfs import (
    PROBE_INIT,
    CpioEntry,
    InitramfsError,
    char_device,
    directory,
    newc_archive,
    parse_facts,
    probe_initramfs,
    regular_file,
    symlink,
)

#: The smallest file that passes the arm64 ELF check: ELF64, little-endian,
#: e_machine 183 (EM_AARCH64).
FAKE_ARM64_ELF = (
    b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little") + bytes(44)
)


def read_newc(archive: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """Decode a newc archive independently of the writer: (name, mode, data, rdev)."""
    members: list[tuple[str, int, bytes, tuple[int, int]]] = []
    pos = 0
    while True:
        assert archive[pos : pos + 6] == b"070701"
        fields = [
            int(archive[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)
        ]
        namesize, filesize = fields[11], fields[6]
        name_start = pos + 110
        name = archive[name_start : name_start + namesize - 1].decode()
        assert archive[name_start + namesize - 1] == 0
        data_start = (name_start + namesize + 3) & ~3
        data = archive[data_start : data_start + filesize]
        pos = (data_start + filesize + 3) & ~3
        if name == "TRAILER!!!":
            assert pos == len(archive)
            return members
        members.append((name, fields[1], data, (fields[9], fields[10])))


def test_archive_members_decode_in_order_with_modes_data_and_device_numbers() -> None:
    entries = [
        directory("bin"),
        regular_file("bin/tool", b"abcde", 0o755),
        symlink("bin/sh", "tool"),
        directory("dev"),
        char_device("dev/console", 5, 1),
    ]

    archive = newc_archive(entries)

    assert read_newc(archive) == [
        ("bin", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("bin/tool", stat.S_IFREG | 0o755, b"abcde", (0, 0)),
        ("bin/sh", stat.S_IFLNK | 0o777, b"tool", (0, 0)),
        ("dev", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
    ]


def test_archive_is_identical_when_built_twice() -> None:
    entries = [directory("etc"), regular_file("etc/motd", b"hi\n")]

    assert newc_archive(entries) == newc_archive(list(entries))


def test_cpio_tool_lists_and_extracts_our_archive(tmp_path: Path) -> None:
    cpio = require_tool("cpio", "cpio")
    archive = newc_archive(
        [
            directory("a"),
            regular_file("a/b.txt", b"payload\n", 0o640),
            symlink("a/c", "b.txt"),
        ]
    )

    listing = subprocess.run(
        [cpio, "-it", "--quiet"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    subprocess.run(
        [cpio, "-id", "--quiet"],
        input=archive,
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )

    assert listing.splitlines() == ["a", "a/b.txt", "a/c"]
    assert (tmp_path / "a/b.txt").read_bytes() == b"payload\n"
    assert stat.S_IMODE((tmp_path / "a/b.txt").stat().st_mode) == 0o640
    assert (tmp_path / "a/c").readlink() == Path("b.txt")


@pytest.mark.parametrize(
    ("entries", "culprit", "fragment"),
    [
        ([regular_file("/init", b"")], "/init", "must be relative"),
        ([directory("a"), regular_file("a/../b", b"")], "a/../b", "must be relative"),
        (
            [regular_file("init", b""), regular_file("init", b"")],
            "init",
            "appears twice",
        ),
        (
            [regular_file("bin/busybox", b"")],
            "bin/busybox",
            "before its directory 'bin'",
        ),
        ([CpioEntry("d", stat.S_IFDIR | 0o755, b"x")], "d", "carries data"),
    ],
)
def test_bad_entries_are_rejected_naming_the_path(
    entries: list[CpioEntry], culprit: str, fragment: str
) -> None:
    with pytest.raises(InitramfsError, match=fragment) as excinfo:
        newc_archive(entries)

    assert excinfo.value.culprit == culprit
    assert f"cpio path {culprit!r}" in str(excinfo.value)


def test_probe_initramfs_holds_busybox_console_and_init(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(FAKE_ARM64_ELF)

    members = {
        name: (mode, data, rdev)
        for name, mode, data, rdev in read_newc(probe_initramfs(busybox))
    }

    assert members["bin/busybox"] == (stat.S_IFREG | 0o755, FAKE_ARM64_ELF, (0, 0))
    assert members["init"] == (stat.S_IFREG | 0o755, PROBE_INIT.encode(), (0, 0))
    assert members["dev/console"] == (stat.S_IFCHR | 0o600, b"", (5, 1))
    assert PROBE_INIT.startswith("#!/bin/busybox sh\n")
    assert "poweroff -f" in PROBE_INIT


def test_compressed_probe_initramfs_is_the_same_archive_gzipped(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(FAKE_ARM64_ELF)

    packed = probe_initramfs(busybox, init="#!/bin/busybox sh\n", compress=True)

    assert gzip.decompress(packed) == probe_initramfs(
        busybox, init="#!/bin/busybox sh\n"
    )


def test_missing_busybox_is_reported_by_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(InitramfsError, match="cannot be read") as excinfo:
        probe_initramfs(missing)

    assert excinfo.value.culprit == str(missing)


def test_busybox_for_another_architecture_is_rejected(tmp_path: Path) -> None:
    x86 = tmp_path / "busybox"
    x86.write_bytes(
        FAKE_ARM64_ELF[:18] + (62).to_bytes(2, "little") + FAKE_ARM64_ELF[20:]
    )

    with pytest.raises(InitramfsError, match="is not an arm64 ELF executable"):
        probe_initramfs(x86)


def test_facts_are_read_between_the_markers_skipping_kernel_lines() -> None:
    console = "\n".join(
        [
            "VM-FACT cpus_online=stale",
            "VM-FACTS-BEGIN",
            "VM-FACT cpus_online=0-3",
            "[    1.234] random: crng init done",
            "VM-FACT ttyAMA0=uart-pl011",
            "VM-FACT its=ITS [mem 0x08080000-0x0809ffff]",
            "VM-FACTS-END",
            "VM-FACT after=ignored",
        ]
    )

    facts = parse_facts(console)

    assert facts == {
        "cpus_online": "0-3",
        "ttyAMA0": "uart-pl011",
        "its": "ITS [mem 0x08080000-0x0809ffff]",
    }


@pytest.mark.parametrize(
    ("console", "marker"),
    [
        ("booting...\nKernel panic", "VM-FACTS-BEGIN"),
        ("VM-FACTS-BEGIN\nVM-FACT a=1\n", "VM-FACTS-END"),
        ("VM-FACTS-END\nVM-FACTS-BEGIN\nVM-FACT a=1", "VM-FACTS-END"),
    ],
)
def test_unfinished_probe_output_names_the_missing_marker(
    console: str, marker: str
) -> None:
    with pytest.raises(
        InitramfsError, match="the probe did not run to the end"
    ) as excinfo:
        parse_facts(console)

    assert excinfo.value.culprit == marker


def test_a_fact_reported_twice_is_an_error_not_a_silent_overwrite() -> None:
    console = "VM-FACTS-BEGIN\nVM-FACT rtc0=a\nVM-FACT rtc0=b\nVM-FACTS-END\n"

    with pytest.raises(
        InitramfsError, match="fact 'rtc0' is reported twice"
    ) as excinfo:
        parse_facts(console)

    assert excinfo.value.culprit == "rtc0"
