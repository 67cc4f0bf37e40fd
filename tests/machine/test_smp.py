from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import require_tool
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.smp import SmpTopology, parse_smp, resolve_smp


def test_default_is_one_cpu() -> None:
    assert parse_smp(None) == SmpTopology(1, 1, 1, 1, 1, 1)
    assert parse_smp("") == SmpTopology()


def test_plain_count_becomes_cores_of_one_socket() -> None:
    assert parse_smp("4") == SmpTopology(
        cpus=4, max_cpus=4, sockets=1, clusters=1, cores=4, threads=1
    )


def test_maxcpus_sizes_the_topology_and_cpus_stay_as_given() -> None:
    assert parse_smp("4,maxcpus=8") == SmpTopology(4, 8, 1, 1, 8, 1)


def test_full_topology_without_cpus_takes_cpus_from_the_product() -> None:
    topo = parse_smp("sockets=2,clusters=2,cores=2,threads=1")

    assert topo == SmpTopology(8, 8, 2, 2, 2, 1)


def test_full_topology_is_taken_as_given() -> None:
    assert parse_smp("cpus=8,sockets=2,clusters=2,cores=2,threads=1") == SmpTopology(
        8, 8, 2, 2, 2, 1
    )


def test_missing_cores_are_computed_before_sockets() -> None:
    assert parse_smp("8,sockets=2") == SmpTopology(8, 8, 2, 1, 4, 1)


def test_missing_sockets_are_computed_when_cores_are_given() -> None:
    assert parse_smp("8,cores=2") == SmpTopology(8, 8, 4, 1, 2, 1)


def test_missing_threads_are_computed_last() -> None:
    assert parse_smp("8,sockets=2,cores=2") == SmpTopology(8, 8, 2, 1, 2, 2)


def test_zero_is_read_as_not_given_with_a_deprecation_warning() -> None:
    topo = parse_smp("0")

    assert topo == SmpTopology()
    assert topo.warnings
    assert "deprecated" in topo.warnings[0]


def test_one_die_is_accepted_and_more_are_refused() -> None:
    assert parse_smp("8,dies=1").cores == 8
    with pytest.raises(
        ConfigError, match="dies=2: the virt board's CPU topology has no dies"
    ):
        parse_smp("8,dies=2")


def test_product_must_equal_maxcpus() -> None:
    with pytest.raises(
        ConfigError,
        match=r"sockets \(2\) \* clusters \(1\) \* cores \(3\) \* threads \(1\) "
        r"!= maxcpus \(8\)",
    ) as exc:
        parse_smp("8,sockets=2,cores=3")

    assert exc.value.option == "smp"
    assert exc.value.value == 8


def test_maxcpus_below_cpus_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"maxcpus \(4\) is below cpus \(8\)"):
        parse_smp("8,maxcpus=4")


def test_more_than_512_cpus_is_refused_naming_the_machine() -> None:
    with pytest.raises(
        ConfigError, match=r"513 CPUs requested, but machine 'virt-7\.2'"
    ) as exc:
        parse_smp("513")

    assert exc.value.value == 513


def test_maxcpus_counts_against_the_machine_limit() -> None:
    with pytest.raises(ConfigError, match="600 CPUs requested"):
        parse_smp("200,maxcpus=600")


@pytest.mark.parametrize(
    ("text", "option", "fragment"),
    [
        ("8,books=2", "smp.books", "unknown key 'books'"),
        ("8,cors=2", "smp.cors", "did you mean 'cores'"),
        ("abc", "smp.cpus", "'abc' is not a non-negative integer"),
        ("-1", "smp.cpus", "'-1' is not a non-negative integer"),
    ],
)
def test_bad_keys_and_values_name_the_key(
    text: str, option: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment) as exc:
        parse_smp(text)

    assert exc.value.option == option


def test_negative_counts_are_refused_by_resolve() -> None:
    with pytest.raises(ConfigError, match="cores=-2 is negative"):
        resolve_smp(cpus=4, cores=-2)


def test_topology_ids_follow_qemus_formula() -> None:
    topo = parse_smp("16,sockets=2,clusters=2,cores=2,threads=2")

    assert [topo.ids(i) for i in (0, 1, 2, 5, 15)] == [
        (0, 0, 0, 0),
        (0, 0, 0, 1),
        (0, 0, 1, 0),
        (0, 1, 0, 1),
        (1, 1, 1, 1),
    ]


def test_topology_ids_reject_an_index_beyond_maxcpus() -> None:
    with pytest.raises(ConfigError, match=r"CPU index 4 is outside \[0, 4\)"):
        parse_smp("4").ids(4)


def test_to_option_reproduces_the_topology() -> None:
    topo = parse_smp("4,maxcpus=8,sockets=2")

    assert parse_smp(topo.to_option()) == topo


_counts = st.one_of(st.none(), st.integers(min_value=0, max_value=24))


@given(
    cpus=_counts,
    maxcpus=_counts,
    sockets=_counts,
    clusters=_counts,
    cores=_counts,
    threads=_counts,
)
def test_any_input_gives_a_consistent_topology_or_a_config_error(
    cpus: int | None,
    maxcpus: int | None,
    sockets: int | None,
    clusters: int | None,
    cores: int | None,
    threads: int | None,
) -> None:
    error: ConfigError | None = None
    try:
        topo = resolve_smp(
            cpus=cpus,
            maxcpus=maxcpus,
            sockets=sockets,
            clusters=clusters,
            cores=cores,
            threads=threads,
        )
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert error.option == "smp"
        return

    assert topo.sockets * topo.clusters * topo.cores * topo.threads == topo.max_cpus
    assert 1 <= topo.cpus <= topo.max_cpus
    for key, value in (
        ("sockets", sockets),
        ("clusters", clusters),
        ("cores", cores),
        ("threads", threads),
        ("cpus", cpus),
        ("max_cpus", maxcpus),
    ):
        if value:
            assert getattr(topo, key) == value
    assert parse_smp(topo.to_option()) == topo


def _sample_smp_strings(count: int) -> list[str]:
    rng = random.Random(20160704)  # fixed: the same table on every run
    samples = []
    for _ in range(count):
        parts = []
        if rng.random() < 0.7:
            parts.append(str(rng.choice([0, 1, 2, 3, 4, 6, 8, 12, 16])))
        for key in ("maxcpus", "sockets", "clusters", "cores", "threads"):
            if rng.random() < 0.4:
                parts.append(f"{key}={rng.choice([0, 1, 2, 3, 4, 8, 16])}")
        samples.append(",".join(parts) or "1")
    return samples


@pytest.mark.external
def test_fill_in_rules_agree_with_qemu_on_sampled_inputs(tmp_path: Path) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    dtc = require_tool("dtc", "device-tree-compiler")
    dtb = tmp_path / "smp.dtb"
    disagreements = []

    for text in _sample_smp_strings(24):
        dtb.unlink(missing_ok=True)
        run = subprocess.run(
            [
                qemu,
                "-nographic",
                "-nodefaults",
                "-M",
                f"virt,gic-version=3,dumpdtb={dtb}",
                "-cpu",
                "cortex-a57",
                "-smp",
                text,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        try:
            ours: int | None = parse_smp(text).cpus
        except ConfigError:
            ours = None
        theirs = None
        if run.returncode == 0:
            dts = subprocess.run(
                [dtc, "-I", "dtb", "-O", "dts", str(dtb)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            theirs = len(re.findall(r"\n\t\tcpu@\d+ \{", dts))
        if ours != theirs:
            disagreements.append((text, ours, theirs, run.stderr.strip()))

    assert disagreements == []
