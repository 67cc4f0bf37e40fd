"""The KVM script interpreter: its grammar and kvmexec's own bookkeeping."""

from __future__ import annotations

import errno
import re

import pytest

from virtmodel.machine.kvm.script import Result, ScriptSyntaxError, parse, run_script


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("create_vm 0\nboot 0\n", "line 2: unknown operation 'boot'"),
        ("create_vm\n", "line 1: create_vm takes 1 field(s), got 0"),
        ("run 0 1\n", "line 1: run takes 1 field(s), got 2"),
        ("has_attr 0 0 0\n", "line 1: has_attr: bad field '0'"),  # not a handle
        ("create_vcpu NULL\n", "line 1: create_vcpu: bad field 'NULL'"),
        ("create_vcpu 0x10000000000000000\n", "bad field '0x10000000000000000'"),
        ("create_vcpu 007\n", "line 1: create_vcpu: bad field '007'"),
    ],
)
def test_a_malformed_line_is_a_syntax_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(ScriptSyntaxError, match=re.escape(message)):
        parse(text)


def test_comments_and_blank_lines_are_skipped_but_keep_the_line_numbers() -> None:
    text = "# a KVM script\n\ncreate_vm 0  # 40-bit IPA\nset_attr d0 0 1 NULL\nend\n"

    calls = parse(text)

    assert [(c.line, c.op, c.args) for c in calls] == [
        (3, "create_vm", (0,)),
        (4, "set_attr", ("d0", 0, 1, "NULL")),
        (5, "end", ()),
    ]
    assert run_script(text) == [Result(3, 5, 0), Result(4, -1, errno.EBADF)]


def test_a_vcpu_id_beyond_kvmexecs_table_is_created_but_has_no_handle() -> None:
    # The kernel takes the id as u32 (so 2**32 is vCPU 0); kvmexec's table
    # has no slot for 2**32, so later calls on vCPU 0 find no descriptor.
    text = "create_vm 0\ncreate_vcpu 0x100000000\nrun 0\ncreate_vcpu 0\nend\n"

    results = run_script(text)

    assert [str(r) for r in results] == ["1 5 0 -", "2 6 0 -", "3 -1 9 -", "4 -1 17 -"]
