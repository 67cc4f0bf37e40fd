"""The KVM script grammar, checked on the host before any boot."""

from __future__ import annotations

import pytest

from virtmodel.machine.lab.script import (
    OPERATIONS,
    ScriptCall,
    ScriptError,
    parse_results,
    parse_script,
)

GOOD = """\
# a whole bring-up
create_vm 0            # the default 40-bit IPA
create_vcpu 0
vcpu_init 0 0x8
create_device 7 1
create_device 7 0
set_attr d0 0 2 0x08000000
set_attr d0 4 0 NULL
get_attr d0 3 0 0
has_attr d0 4 0
vcpu_set_attr 0 0 0 23
vcpu_get_attr 0 0 0 NULL
vcpu_has_attr 0 2 0
run 0
set_user_memory_region 1 0x40000000 0 2
set_gsi_routing 0 256 0 1 1 0 0
end
"""


def test_every_operation_parses_with_numbers_normalized():
    calls = parse_script(GOOD)
    assert [call.op for call in calls] == [
        "create_vm", "create_vcpu", "vcpu_init", "create_device", "create_device",
        "set_attr", "set_attr", "get_attr", "has_attr", "vcpu_set_attr",
        "vcpu_get_attr", "vcpu_has_attr", "run", "set_user_memory_region",
        "set_gsi_routing", "end",
    ]  # fmt: skip
    assert {call.op for call in calls} == set(OPERATIONS)
    assert calls[0] == ScriptCall(2, "create_vm", (0,))
    assert calls[5] == ScriptCall(7, "set_attr", ("d0", 0, 2, 0x08000000))
    assert calls[6].args[-1] == "NULL"


def test_canonical_text_reparses_to_the_same_calls():
    calls = parse_script(GOOD)
    again = parse_script("\n".join(call.text() for call in calls))
    assert [(c.op, c.args) for c in again] == [(c.op, c.args) for c in calls]
    assert calls[5].text() == "set_attr d0 0 2 0x8000000"
    assert calls[1].text() == "create_vcpu 0"


def test_u64_extremes_are_accepted():
    (call,) = parse_script("set_attr d12 0 0xffffffffffffffff 18446744073709551615")
    assert call.args == ("d12", 0, (1 << 64) - 1, (1 << 64) - 1)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("create_vm", "create_vm takes 1 field(s), got 0"),
        ("create_vm 0 0", "create_vm takes 1 field(s), got 2"),
        ("create_vm -1", "must be a decimal or 0x-hex number"),
        ("create_vm 010", "must be a decimal or 0x-hex number"),  # octal-looking
        ("create_vm 0X10", "must be a decimal or 0x-hex number"),
        ("create_vm 0x", "must be a decimal or 0x-hex number"),
        ("create_vm 0x10000000000000000", "does not fit in 64 bits"),
        ("set_attr 0 0 0 0", "must be a device handle d0, d1, ..."),
        ("set_attr d01 0 0 0", "must be a device handle"),
        ("has_attr d0 0 NULL", "must be a decimal or 0x-hex number"),
        ("create_vcpu NULL", "must be a decimal or 0x-hex number"),
        ("reboot 0", "unknown operation 'reboot'"),
        ("x" * 4001, "longer than 4000 characters"),
    ],
)
def test_malformed_lines_are_one_line_errors_naming_the_line(text, fragment):
    with pytest.raises(ScriptError) as info:
        parse_script(f"create_vm 0\n\n{text}\n")
    assert info.value.line == 3
    message = str(info.value)
    assert message.startswith("line 3: ")
    assert fragment in message
    assert "\n" not in message


def test_comments_and_blank_lines_keep_line_numbers():
    calls = parse_script("\n# nothing\n   \ncreate_vm 0 # trailing\n")
    assert calls == [ScriptCall(4, "create_vm", (0,))]


def test_parse_results_reads_kvmexec_answers():
    answers = parse_results(["1 5 0 -", "2 -1 19 -", "3 0 0 0x8000000"])
    assert answers == {1: (5, 0, None), 2: (-1, 19, None), 3: (0, 0, 0x8000000)}


@pytest.mark.parametrize(
    "line", ["1 0 0", "x 0 0 -", "1 0 0 12", "0 0 0 -", "1 0 -1 -", "kvm [1]: oops"]
)
def test_parse_results_refuses_anything_else(line):
    with pytest.raises(ValueError, match="unexpected kvmexec output"):
        parse_results([line])


def test_parse_results_refuses_a_repeated_line():
    with pytest.raises(ValueError, match="answered line 1 twice"):
        parse_results(["1 0 0 -", "1 0 0 -"])
