from __future__ import annotations

import pytest

from virtmodel.notifiers import (
    AlreadyNotifiedError,
    CycleError,
    DuplicateNotifierError,
    InvalidNotifierError,
    InvalidOrderError,
    LateRegistrationError,
    NotifierError,
    NotifierFailedError,
    UnknownNotifierError,
)
from virtmodel.notifiers.errors import quote_names


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (InvalidNotifierError, ValueError),
        (DuplicateNotifierError, ValueError),
        (UnknownNotifierError, LookupError),
        (CycleError, ValueError),
        (InvalidOrderError, ValueError),
        (LateRegistrationError, RuntimeError),
        (AlreadyNotifiedError, RuntimeError),
        (NotifierFailedError, RuntimeError),
    ],
)
def test_each_error_is_a_notifier_error_and_its_builtin(error, builtin):
    assert issubclass(error, NotifierError)
    assert issubclass(error, builtin)


def test_unknown_error_str_is_prose_not_a_key_repr():
    error = UnknownNotifierError("reset", "uart")

    assert str(error) == "no notifier 'uart' is registered for 'reset'"


def test_quote_names_elides_long_lists():
    assert quote_names([]) == "none"
    assert quote_names(["a"]) == "'a'"
    assert quote_names([f"n{i}" for i in range(7)]) == (
        "'n0', 'n1', 'n2', 'n3', 'n4' and 2 more"
    )


def test_failure_message_stays_one_line_for_many_notifiers():
    from virtmodel.notifiers import NotifierRegistry

    registry = NotifierRegistry[[]]("big")
    for i in range(20):
        registry.add(f"n{i}", lambda: None)

    def boom() -> None:
        raise RuntimeError("line one\nline two")

    registry.add("boom", boom, after="n19")
    for i in range(20, 30):
        registry.add(f"n{i}", lambda: None, after="boom")

    with pytest.raises(NotifierFailedError) as info:
        registry.notify()

    assert "\n" not in str(info.value)
    assert "ran: 'n0', 'n1', 'n2', 'n3', 'n4' and 15 more" in str(info.value)
    assert len(info.value.ran) == 20
    assert len(info.value.not_run) == 10


def test_unknown_error_from_a_referrer_without_location_still_reads_well():
    error = UnknownNotifierError("reset", "clocks", referrer="uart", keyword="after")

    assert str(error) == (
        "notifier 'uart' is ordered against 'clocks' (after=), "
        "which is not registered for 'reset'"
    )
    assert error.location is None
