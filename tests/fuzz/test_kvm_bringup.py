"""Drive the simulated KVM through whole-machine bring-ups with random options.

``tests/machine/kvm`` fuzzes single ioctls; here random option sets, kernel
eras, notifier modes, ITS placements, strict mode and dropped edges bring up
a whole ``virt`` machine. Each bring-up either reaches the first vCPU run, is
refused by config validation with a ``ConfigError``, or fails with one
``MachineFailedError`` line whose errno the kernel could return (EPERM only
from strict mode's own check). No other exception, ever.
"""

from __future__ import annotations

import errno

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import TALLY, examples
from virtmodel.devices.its_init import is_its_init
from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import ConfigError, MachineFailedError
from virtmodel.machine.kvm.eras import is_semantics_name
from virtmodel.machine.notifier_modes import is_notifier_mode

#: What Linux's KVM device and vCPU ioctls return on arm64.
KERNEL_ERRNOS = frozenset(
    {
        errno.EINVAL,
        errno.ENXIO,
        errno.EBUSY,
        errno.EEXIST,
        errno.EFAULT,
        errno.ENODEV,
        errno.E2BIG,
        errno.ENOENT,
        errno.ENOMEM,
    }
)
#: Declared init-done edges of a KVM GICv3+ITS virt machine, to drop at random.
EDGES = (
    ("its-ctrl-init", "kvm-set-addr:its"),
    ("fw-cfg-machine-ready", "virt-machine-done"),
)


@st.composite
def bringups(draw: st.DrawFn) -> dict[str, object]:
    """Return keyword arguments for one bring-up."""
    keys = [f"gic-version={draw(st.sampled_from(('2', '3', '3', 'host', 'max')))}"]
    for key in ("its", "highmem", "virtualization", "secure"):
        if draw(st.integers(0, 3)) == 0:
            keys.append(f"{key}={draw(st.sampled_from(('on', 'off')))}")
    return {
        "machine": ",".join(["virt", *keys]),
        "smp": draw(st.sampled_from(("1", "2", "4", "1", "2", "4", "8", "9", "64", "124", "4,maxcpus=8"))),
        "memory": draw(st.sampled_from(("128M", "1G", "4G", "128M", "1G", "300G"))),
        "cpu": draw(st.sampled_from(("host", "max", "cortex-a57", "host", "max", "cortex-a53", "cortex-a15"))),
        "era": draw(st.sampled_from(("v6.1", "v4.8", "v4.8-rc1"))),
        "notifiers": draw(st.sampled_from(("ordered", "qemu-lifo"))),
        "its_init": draw(st.sampled_from(("realize", "init-done"))),
        "strict": draw(st.booleans()),
        "drop": draw(st.lists(st.sampled_from(EDGES), max_size=2, unique=True)),
    }  # fmt: skip


@settings(
    max_examples=examples(120),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=bringups())
def test_random_kvm_bringup_ends_in_a_run_or_a_kernel_errno(
    case: dict[str, object],
) -> None:
    try:
        config = VirtConfig.from_options(
            str(case["machine"]),
            smp=str(case["smp"]),
            memory=str(case["memory"]),
            cpu=str(case["cpu"]),
            accel="kvm",
        )
    except ConfigError as exc:
        TALLY.record("kvm bring-up", "rejected", case)
        rejection = str(exc)
        assert "\n" not in rejection
        return
    era, mode, its_init = case["era"], case["notifiers"], case["its_init"]
    assert is_semantics_name(era), era
    assert is_notifier_mode(mode), mode
    assert is_its_init(its_init), its_init
    machine = create_virt(
        config,
        kernel_semantics=era,
        notifiers=mode,
        its_init=its_init,
        strict=bool(case["strict"]),
        drop_edges=case["drop"],  # type: ignore[arg-type]  # list of pairs
    )
    failure: MachineFailedError | None = None

    try:
        boot_virt(machine)
    except MachineFailedError as exc:
        failure = exc
    except Exception as exc:
        TALLY.record("kvm bring-up", "crash", case, repr(exc))
        raise

    if failure is None:
        TALLY.record("kvm bring-up", "ok", case)
        assert machine.phase.current.name == "MACHINE_READY"
        assert isinstance(machine.accel, KvmAccel)
        assert isinstance(machine.accel.vm, kvm.Vm)
        assert machine.accel.vm.any_vcpu_has_run
        return
    TALLY.record("kvm bring-up", "failed", case)
    assert "\n" not in str(failure)
    allowed = KERNEL_ERRNOS | ({errno.EPERM} if case["strict"] else set())
    if failure.errno is None:
        # No ioctl failed: a device model refused the configuration itself,
        # or the board refused a GIC the host's vGIC probe did not offer.
        refusals = ("cannot realize", "does not support in-kernel")
        assert any(r in str(failure) for r in refusals), str(failure)
    else:
        assert failure.errno in allowed, (failure.errno, str(failure))
    assert any(not entry.ok for entry in machine.trace)
