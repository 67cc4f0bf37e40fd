import pytest

from virtmodel.machine.errors import PhaseError
from virtmodel.machine.phases import Phase, PhaseClock


def test_phases_advance_one_step_at_a_time_in_qemu_order():
    clock = PhaseClock()
    seen = []
    clock.add_listener(lambda old, new: seen.append((old.name, new.name)))

    for phase in list(Phase)[1:]:
        clock.advance(phase)

    assert clock.current is Phase.MACHINE_READY
    assert seen[0] == ("NO_MACHINE", "MACHINE_CREATED")
    assert seen[-1] == ("MACHINE_INITIALIZED", "MACHINE_READY")


def test_skipping_a_phase_is_refused_and_names_the_phase_needed():
    clock = PhaseClock()

    with pytest.raises(PhaseError, match="needs phase MACHINE_CREATED") as info:
        clock.advance(Phase.ACCEL_CREATED)

    assert info.value.needed == "MACHINE_CREATED"
    assert info.value.current == "NO_MACHINE"
    assert clock.current is Phase.NO_MACHINE


def test_going_back_is_refused():
    clock = PhaseClock()
    clock.advance(Phase.MACHINE_CREATED)

    with pytest.raises(PhaseError):
        clock.advance(Phase.MACHINE_CREATED)


def test_require_names_operation_and_phase():
    clock = PhaseClock()

    with pytest.raises(
        PhaseError,
        match=r"^create_accel\(\) needs phase MACHINE_CREATED, but the machine is in NO_MACHINE$",
    ):
        clock.require("create_accel()", Phase.MACHINE_CREATED)


def test_reached_is_qemu_phase_check():
    clock = PhaseClock()
    clock.advance(Phase.MACHINE_CREATED)

    assert clock.reached(Phase.NO_MACHINE)
    assert clock.reached(Phase.MACHINE_CREATED)
    assert not clock.reached(Phase.ACCEL_CREATED)
