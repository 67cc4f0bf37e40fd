"""write_atomic never leaves a partial file behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtmodel.machine.files import write_atomic


def test_write_atomic_replaces_the_file_with_the_whole_content(tmp_path: Path) -> None:
    target = tmp_path / "out.dtb"
    target.write_bytes(b"old")

    write_atomic(target, b"\xd0\x0d\xfe\xed" * 100)

    assert target.read_bytes() == b"\xd0\x0d\xfe\xed" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["out.dtb"]


def test_write_atomic_writes_text_and_honours_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.dts"
    old = os.umask(0o027)
    try:
        write_atomic(target, "/dts-v1/;\n")
    finally:
        os.umask(old)

    assert target.read_text() == "/dts-v1/;\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.dtb"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(target, 12)  # type: ignore[arg-type]  # deliberately wrong type

    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.dtb"]


def test_a_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "out.dtb", b"x")


def test_write_atomic_never_touches_the_process_umask(
    tmp_path: Path, monkeypatch
) -> None:
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask changes the umask of every thread")

    monkeypatch.setattr(os, "umask", forbidden)

    write_atomic(tmp_path / "out.dtb", b"\xd0\x0d\xfe\xed")

    assert (tmp_path / "out.dtb").read_bytes() == b"\xd0\x0d\xfe\xed"
