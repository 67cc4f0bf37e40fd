"""A notifier that raises, in each phase: the machine says which, what ran and
what did not, and a second machine built in the same process works and shares
nothing with the failed one.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

import pytest

from virtmodel.machine import kvm
from virtmodel.machine.errors import MachineFailedError, PhaseError
from virtmodel.machine.machine import Machine
from virtmodel.notifiers import NotifierFailedError


class Boom(RuntimeError):
    """The fault a test notifier injects."""


def _fail(machine: Machine) -> None:
    raise Boom("injected fault")


def _recorder(log: list[str], name: str) -> Callable[[Machine], None]:
    def record(machine: Machine) -> None:
        log.append(name)

    return record


def _init_done_board(log: list[str]) -> Callable[[Machine], None]:
    def board(machine: Machine) -> None:
        machine.add_init_done("first", _recorder(log, "first"))
        machine.add_init_done("faulty", _fail, after="first")
        machine.add_init_done("dependent", _recorder(log, "dependent"), after="faulty")
        machine.add_init_done("bystander", _recorder(log, "bystander"))

    return board


def test_init_done_fault_names_the_notifier_what_ran_and_what_never_ran() -> None:
    log: list[str] = []
    machine = Machine("faulty")

    with pytest.raises(MachineFailedError, match="injected fault") as excinfo:
        machine.boot(_init_done_board(log))

    assert excinfo.value.notifier == "faulty"
    assert "notifier 'faulty'" in str(excinfo.value)
    assert log == ["first"]
    assert machine.init_done.not_run() == ["faulty", "dependent", "bystander"]
    lines = [str(entry) for entry in machine.trace]
    assert any("never ran: dependent, bystander" in line for line in lines)
    trace = machine.init_done.registry.last_trace
    assert trace is not None
    assert trace.names("ran") == ["first"]
    assert isinstance(excinfo.value.__cause__, NotifierFailedError)


def test_realize_fault_names_the_device_and_the_realized_devices_stay_realized() -> (
    None
):
    from virtmodel.devices.base import Device, DeviceProps
    from virtmodel.devices.errors import RealizeError

    class Faulty(Device[DeviceProps]):
        def on_realize(self) -> None:
            raise RealizeError(self.name, "injected fault")

    ok = Device[DeviceProps]("ok")
    machine = Machine("faulty")

    def board(m: Machine) -> None:
        m.add(ok)
        m.add(Faulty("faulty"), after="ok")

    with pytest.raises(MachineFailedError, match="realize of 'faulty'"):
        machine.boot(board)

    assert ok.is_realized
    assert machine.device("faulty").state.value == "created"
    assert machine.phase.current.name == "ACCEL_CREATED"


def test_reset_fault_stops_the_machine_before_its_vcpus_run() -> None:
    log: list[str] = []
    machine = Machine("faulty")
    machine.reset_notifiers.add("before-fault", _recorder(log, "before-fault"))
    machine.reset_notifiers.add("faulty", _fail, after="before-fault")
    machine.reset_notifiers.add("after-fault", _recorder(log, "after"), after="faulty")

    with pytest.raises(MachineFailedError, match="machine-reset: injected fault"):
        machine.boot(lambda m: None)

    assert log == ["before-fault"]
    assert not any("vCPUs start" in str(entry) for entry in machine.trace)


def test_reset_fault_names_the_notifier() -> None:
    machine = Machine("faulty")
    machine.reset_notifiers.add("faulty", _fail)

    with pytest.raises(MachineFailedError) as excinfo:
        machine.boot(lambda m: None)

    assert excinfo.value.notifier == "faulty"


def test_late_notifier_fault_names_it_and_the_machine_stays_ready() -> None:
    machine = Machine("late")
    machine.boot(lambda m: None)

    with pytest.raises(NotifierFailedError, match="notifier 'late' failed") as excinfo:
        machine.add_init_done("late", _fail)

    assert excinfo.value.name == "late"
    assert isinstance(excinfo.value.__cause__, Boom)
    assert machine.phase.current.name == "MACHINE_READY"


def test_a_failed_machine_cannot_be_booted_again_but_a_new_one_can() -> None:
    log: list[str] = []
    failed = Machine("first")
    with pytest.raises(MachineFailedError):
        failed.boot(_init_done_board(log))
    failed_ref = weakref.ref(failed)

    with pytest.raises(PhaseError):
        failed.boot(lambda m: None)
    del failed
    gc.collect()
    fresh_log: list[str] = []
    fresh = Machine("second")

    def board(m: Machine) -> None:
        m.add_init_done("only", _recorder(fresh_log, "only"))

    fresh.boot(board)

    assert failed_ref() is None
    assert fresh_log == ["only"]
    assert fresh.init_done.order() == ["only"]
    assert fresh.failure is None
    assert not any("FAILED" in str(entry) for entry in fresh.trace)


def test_a_virt_machine_after_a_failed_virt_machine_boots_with_fresh_state() -> None:
    from virtmodel.machine.accel import KvmAccel
    from virtmodel.machine.boards.virt.board import boot_virt, create_virt
    from virtmodel.machine.boards.virt.config import VirtConfig

    config = VirtConfig.from_options(
        "virt,gic-version=3,its=on", cpu="max", accel="kvm"
    )
    broken = create_virt(config, kernel_semantics="v4.8-rc1", its_init="realize")
    with pytest.raises(MachineFailedError, match="ENXIO"):
        boot_virt(broken)

    fixed = boot_virt(
        create_virt(config, kernel_semantics="v4.8-rc1", its_init="init-done")
    )

    assert isinstance(fixed.accel, KvmAccel)
    assert isinstance(broken.accel, KvmAccel)
    assert fixed.accel.vm is not broken.accel.vm
    assert isinstance(fixed.accel.vm, kvm.Vm)
    assert fixed.accel.vm.any_vcpu_has_run
    assert fixed.init_done.registry is not broken.init_done.registry
    assert fixed.kvm_addresses is not broken.kvm_addresses


@pytest.mark.parametrize(
    "bug", [KeyError("slot"), RecursionError("deep"), TypeError("x")]
)
def test_a_bug_in_a_device_model_propagates_instead_of_a_machine_failure(
    bug: Exception,
) -> None:
    from virtmodel.devices.base import Device, DeviceProps

    class Buggy(Device[DeviceProps]):
        def on_realize(self) -> None:
            raise bug

    machine = Machine("buggy")

    with pytest.raises(type(bug)) as excinfo:
        machine.boot(lambda m: m.add(Buggy("buggy")))

    assert excinfo.value is bug
