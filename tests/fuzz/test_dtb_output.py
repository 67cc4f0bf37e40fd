"""``virtmodel dtb -o F`` writes F completely or not at all.

Bad machine options leave no F and no temporary file; an existing F survives
a failed run unchanged; an output the process cannot write is reported in one
line and leaves nothing behind.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fuzz.harness import TALLY, Outcome, entry_argv, load_corpus, run_cli

FDT_MAGIC = bytes.fromhex("d00dfeed")


def _rejected_option_sets() -> list[object]:
    params: list[object] = []
    for entry in load_corpus("cli"):
        argv = entry_argv(entry)
        if entry["expect"] != "rejected" or argv[:1] != ["dts"]:
            continue
        marks = []
        if "bug" in entry:
            marks.append(pytest.mark.xfail(reason=str(entry["bug"]), strict=True))
        params.append(pytest.param(argv[1:], id=" ".join(argv[1:]), marks=marks))
    return params


@pytest.mark.parametrize("options", _rejected_option_sets())
def test_bad_options_leave_no_output_and_no_temporary_file(
    tmp_path: Path, options: list[str]
) -> None:
    out = tmp_path / "virt.dtb"

    outcome = run_cli(["dtb", *options, "-o", str(out)])
    TALLY.record("dtb -o (corpus)", outcome.kind, outcome.argv, outcome.problem)

    assert (outcome.kind, outcome.status) == ("rejected", 2)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_leave_an_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "virt.dtb"
    out.write_bytes(b"previous contents")

    outcome = run_cli(["dtb", "-M", "virt,gic-version=9", "-o", str(out)])

    assert outcome.status == 2
    assert out.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["virt.dtb"]


def test_good_options_write_a_whole_blob_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "virt.dtb"

    outcome = run_cli(["dtb", "-M", "virt,gic-version=3,its=on", "-o", str(out)])

    assert outcome.kind == "ok"
    data = out.read_bytes()
    assert data[:4] == FDT_MAGIC
    assert int.from_bytes(data[4:8], "big") == len(data)
    assert [p.name for p in tmp_path.iterdir()] == ["virt.dtb"]


def _unwritable(tmp_path: Path) -> dict[str, Path]:
    regular = tmp_path / "a-file"
    regular.write_bytes(b"")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    return {
        "parent is a file": regular / "virt.dtb",
        "parent is missing": tmp_path / "missing" / "virt.dtb",
        "target is a directory": directory,
        "read-only pseudo file system": Path("/proc/virtmodel-test.dtb"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "parent is a file",
        "parent is missing",
        "target is a directory",
        "read-only pseudo file system",
    ],
)
def test_unwritable_output_fails_in_one_line_and_leaves_nothing(
    tmp_path: Path, case: str
) -> None:
    target = _unwritable(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))

    outcome = run_cli(["dtb", "-o", str(target)])
    TALLY.record("dtb -o (unwritable)", outcome.kind, outcome.argv, outcome.problem)

    assert outcome.problem == ""
    assert outcome.status in (1, 2)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_directory_without_write_permission_leaves_nothing(tmp_path: Path) -> None:
    # Root writes through directory permissions, so as root the CLI runs in
    # a forked child that has become nobody; the same assertions hold.
    base = tmp_path
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="virtmodel-locked-"))
        base.chmod(0o711)  # nobody may pass through, not write
    locked = base / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    argv = ["dtb", "-o", str(locked / "virt.dtb")]

    try:
        outcome = _as_nobody(argv) if os.geteuid() == 0 else run_cli(argv)
        left = list(locked.iterdir())
    finally:
        locked.chmod(0o755)
        if base != tmp_path:
            shutil.rmtree(base)

    assert outcome.problem == ""
    assert outcome.status in (1, 2)
    assert "Permission denied" in outcome.stderr
    assert left == []


def _as_nobody(argv: list[str]) -> Outcome:
    """Run the CLI in a forked child that has dropped root for nobody.

    A successful run first imports what ``dtb`` uses: nobody may not be able
    to read a Python installed under root's home.
    """
    with tempfile.TemporaryDirectory() as scratch:
        warm = run_cli(["dtb", "-o", str(Path(scratch) / "warm.dtb")])
    assert warm.status == 0, warm.stderr
    nobody = pwd.getpwnam("nobody")
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(reader)
            os.setgroups([])
            os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)
            os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)
            with os.fdopen(writer, "wb") as pipe:
                pickle.dump(run_cli(argv), pipe)
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    outcome = pickle.loads(data)
    assert isinstance(outcome, Outcome)
    return outcome


def test_unwritable_output_error_names_the_path_the_user_gave(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "virt.dtb"

    outcome = run_cli(["dtb", "-o", str(target)])

    assert repr(str(target)) in outcome.error_lines()[0]
    assert ".tmp" not in outcome.error_lines()[0]


def test_empty_output_name_is_a_usage_error() -> None:
    outcome = run_cli(["dtb", "-o", ""])

    assert outcome.status == 2
    assert "-o" in outcome.error_lines()[0]
