from __future__ import annotations

import pytest

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import (
    DEFAULT_RAM_SIZE,
    GiB,
    KiB,
    MemoryOptions,
    MiB,
    TiB,
    format_size,
    parse_bool,
    parse_int,
    parse_keyval,
    parse_memory,
    parse_size,
    resolve_memory,
    suggest,
)


def test_keyval_reads_the_implied_first_key_and_keeps_order() -> None:
    fields = parse_keyval(
        "virt,gic-version=3,its=on", option="machine", implied_key="type"
    )

    assert list(fields.items()) == [
        ("type", "virt"),
        ("gic-version", "3"),
        ("its", "on"),
    ]


def test_keyval_reads_a_doubled_comma_as_a_literal_comma() -> None:
    fields = parse_keyval("x,append=a,,b", option="o", implied_key="type")

    assert fields["append"] == "a,b"


def test_keyval_rejects_a_later_element_without_a_value() -> None:
    with pytest.raises(ConfigError, match="'its' in 'virt,its' needs a value") as exc:
        parse_keyval("virt,its", option="machine", implied_key="type")

    assert exc.value.option == "machine"
    assert exc.value.value == "virt,its"


def test_keyval_keeps_the_last_of_a_key_given_twice_as_qemu_does() -> None:
    fields = parse_keyval(
        "virt,its=on,gic-version=3,its=off", option="machine", implied_key="type"
    )

    assert fields == {"type": "virt", "gic-version": "3", "its": "off"}
    assert parse_keyval("4,cpus=2", option="smp", implied_key="cpus") == {"cpus": "2"}


def test_keyval_rejects_an_empty_key() -> None:
    with pytest.raises(ConfigError, match="empty key"):
        parse_keyval("virt,=3", option="machine", implied_key="type")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on", True),
        ("yes", True),
        ("true", True),
        ("off", False),
        ("no", False),
        ("false", False),
    ],
)
def test_bool_accepts_qemus_six_spellings(text: str, expected: bool) -> None:
    assert parse_bool("its", text) is expected


@pytest.mark.parametrize("text", ["ON", "1", "0", "maybe", ""])
def test_bool_rejects_other_spellings_naming_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match=r"option 'its': .* is not a boolean") as exc:
        parse_bool("its", text)

    assert exc.value.value == text


def test_int_reads_decimal_and_hexadecimal() -> None:
    assert parse_int("phandle-start", "256") == 256
    assert parse_int("phandle-start", "0x100") == 256


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", ""])
def test_int_rejects_what_is_not_a_non_negative_integer(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a non-negative integer"):
        parse_int("smp.cpus", text)


def test_int_rejects_a_value_above_the_maximum() -> None:
    with pytest.raises(ConfigError, match=r"outside the range 0\.\.255"):
        parse_int("x", "256", maximum=255)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512M", 512 * MiB),
        ("1G", GiB),
        ("1g", GiB),
        ("1.5G", 3 * GiB // 2),
        ("100k", 100 * KiB),
        ("2T", 2 * TiB),
        ("4096", 4096),
        ("8B", 8),
        ("1E", 1 << 60),
    ],
)
def test_size_reads_qemu_suffixes_in_either_case(text: str, expected: int) -> None:
    assert parse_size("m", text) == expected


def test_size_uses_the_default_unit_for_a_bare_number() -> None:
    assert parse_size("m", "1024", default_unit=MiB) == GiB


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("abc", "is not a size"),
        ("1X", "unknown suffix 'X'"),
        ("1.5", "fraction of a byte"),
        ("16E", "does not fit in 64 bits"),
        ("-1G", "is not a size"),
    ],
)
def test_size_rejects_malformed_values(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as exc:
        parse_size("m", text)

    assert exc.value.option == "m"


def test_memory_defaults_to_128_mib_without_hotplug() -> None:
    assert parse_memory(None) == MemoryOptions(DEFAULT_RAM_SIZE, 0, DEFAULT_RAM_SIZE)
    assert parse_memory("") == parse_memory(None)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", GiB),
        ("1G", GiB),
        ("1g", GiB),
        ("size=512M", 512 * MiB),
        ("0", DEFAULT_RAM_SIZE),
        ("1", MiB),
        ("100k", 104 * KiB),
    ],
)
def test_memory_reads_legacy_mib_and_suffixed_sizes(text: str, size: int) -> None:
    assert parse_memory(text).ram_size == size


@pytest.mark.parametrize("text", ["1.5", "1e3", "1G ", "0x1.5G", "17592186044416"])
def test_memory_rejects_what_qemu_rejects(text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_memory(text)

    assert exc.value.option == "m"


def test_memory_reads_slots_and_maxmem() -> None:
    assert parse_memory("1G,slots=2,maxmem=8G") == MemoryOptions(GiB, 2, 8 * GiB)


def test_memory_maxmem_without_suffix_is_in_bytes_as_in_qemu() -> None:
    with pytest.raises(
        ConfigError, match="maxmem 0x00000008 is below the initial RAM size 0x40000000"
    ) as exc:
        parse_memory("1G,maxmem=8")

    assert exc.value.option == "m.maxmem"
    assert exc.value.value == 8


def test_memory_slots_need_maxmem() -> None:
    with pytest.raises(ConfigError, match="slots=2 needs maxmem=") as exc:
        parse_memory("1G,slots=2")

    assert exc.value.option == "m.slots"


def test_memory_slots_need_maxmem_above_the_ram_size() -> None:
    with pytest.raises(ConfigError, match="leaves no room"):
        parse_memory("1G,slots=2,maxmem=1G")


def test_memory_maxmem_equal_to_ram_without_slots_is_accepted() -> None:
    assert parse_memory("1G,slots=0,maxmem=1G") == MemoryOptions(GiB, 0, GiB)


def test_memory_rejects_an_unknown_key_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match="unknown key 'maxmen'; did you mean 'maxmem'"
    ) as exc:
        parse_memory("1G,maxmen=2G")

    assert exc.value.option == "m.maxmen"


def test_resolve_memory_rounds_up_to_8_kib() -> None:
    assert resolve_memory(1).ram_size == 8 * KiB


@pytest.mark.parametrize(
    ("size", "text"),
    [(GiB, "1G"), (1536 * MiB, "1536M"), (100, "100B"), (8 * KiB, "8K"), (TiB, "1T")],
)
def test_format_size_round_trips_through_parse_size(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size("m", text) == size


def test_suggest_names_the_closest_choice_or_nothing() -> None:
    assert suggest("highmen", ["its", "highmem"]) == "; did you mean 'highmem'?"
    assert suggest("zzz", ["its", "highmem"]) == ""
