"""Shared MMIO properties validate the region."""

from __future__ import annotations

import pytest

from virtmodel.devices import PropertyError
from virtmodel.devices.pl031 import Pl031


def test_a_region_past_2_to_the_64_is_rejected_with_its_range() -> None:
    with pytest.raises(
        PropertyError, match=r"region \[0xfffffffffffff000, .*\) ends past"
    ):
        Pl031("rtc", base=0xFFFF_FFFF_FFFF_F000, size=0x2000)


def test_zero_size_is_rejected() -> None:
    with pytest.raises(PropertyError, match="size: Input should be greater than 0"):
        Pl031("rtc", size=0)
