from __future__ import annotations

import pytest

from virtmodel.machine import kvm


def test_three_kernel_eras_are_known_with_their_its_behaviour() -> None:
    eras = {name: sem.its_era for name, sem in kvm.SEMANTICS.items()}

    assert eras == {"v6.1": "C", "v4.8": "B", "v4.8-rc1": "A"}


def test_mainline_is_an_alias_of_v6_1() -> None:
    vm = kvm.create_vm(semantics="mainline")

    assert vm.semantics is kvm.SEMANTICS["v6.1"]
    with pytest.raises(ValueError, match=r"'v6\.1', 'v4\.8', 'v4\.8-rc1', 'mainline'"):
        kvm.create_vm(semantics="v5.0")  # type: ignore[call-overload]  # on purpose


def test_only_v6_1_uses_the_5_16_check_order_and_region_attribute() -> None:
    flags = {n: (s.iorange_checks, s.redist_regions) for n, s in kvm.SEMANTICS.items()}

    assert flags == {
        "v6.1": (True, True),
        "v4.8": (False, False),
        "v4.8-rc1": (False, False),
    }


def test_lab_host_has_no_gicv2_emulation() -> None:
    vm = kvm.create_vm(host=kvm.LAB_HOST)

    assert (kvm.LAB_HOST.can_emulate_v2, kvm.LAB_HOST.ipa_limit) == (False, 48)
    assert kvm.LAB_HOST.max_vcpus == 512
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3, test=True)
    with pytest.raises(kvm.KvmError, match="ENODEV"):
        vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2, test=True)


def test_default_host_is_gicv3_with_v2_compatibility_and_48_ipa_bits() -> None:
    host = kvm.HostCaps()

    assert (host.can_emulate_v2, host.can_emulate_v3, host.ipa_limit) == (
        True,
        True,
        48,
    )
    assert host.max_vcpus == 512
    assert kvm.HostCaps(gic_version=2).max_vcpus == 8


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"ipa_limit": 31}, "ipa_limit 31"),
        ({"ipa_limit": 53}, "ipa_limit 53"),
        ({"gic_version": 4}, "gic_version 4"),
        ({"gic_version": 2, "gicv4_1_vsgi": True}, "gicv4_1_vsgi"),
    ],
)
def test_host_caps_reject_bad_fields_naming_them(
    kwargs: dict[str, int], culprit: str
) -> None:
    with pytest.raises(ValueError, match=culprit):
        kvm.HostCaps(**kwargs)  # type: ignore[arg-type]  # deliberately bad input
