"""Our ``virt`` DTBs against blobs captured from the real QEMU 7.2.

``tests/golden/index.json`` lists each capture's options; each blob must come
out byte for byte (``fdt_diff`` explains a mismatch node by node).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.fdt_diff import fdt_diff
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.tree import build_virt_fdt
from virtmodel.machine.fdt import Fdt

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
INDEX: dict[str, Any] = json.loads((GOLDEN / "index.json").read_text())
CASES: dict[str, dict[str, str | None]] = INDEX["cases"]


def config_for(case: dict[str, str | None]) -> VirtConfig:
    return VirtConfig.from_options(
        case["machine"], smp=case["smp"], memory=case["memory"], cpu=case["cpu"]
    )


def mismatch_report(ours: Fdt, blob: bytes) -> str:
    lines = fdt_diff(ours, Fdt.from_dtb(blob))
    return "\n".join(lines[:40]) or "trees equal; bytes differ (padding or header)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_dtb_matches_qemu_byte_for_byte(name: str) -> None:
    golden = gzip.decompress((GOLDEN / f"{name}.dtb.gz").read_bytes())
    config = config_for(CASES[name])

    fdt = build_virt_fdt(config)
    ours = fdt.to_dtb()

    assert ours == golden, mismatch_report(fdt, golden)


def test_golden_index_names_a_blob_for_every_case() -> None:
    blobs = {p.name.removesuffix(".dtb.gz") for p in GOLDEN.glob("*.dtb.gz")}

    assert blobs == set(CASES)
