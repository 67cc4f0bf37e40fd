from __future__ import annotations

import pytest

from virtmodel.notifiers import (
    DuplicateNotifierError,
    ListNotifier,
    NotifierList,
    NotifierWithReturnList,
    ReturnNotifier,
    UnknownNotifierError,
)

Log = list[str]


def element(name: str) -> ListNotifier[Log]:
    return ListNotifier(lambda log: log.append(name), name)


def test_list_runs_newest_registration_first():
    done = NotifierList[Log]("machine-init-done")
    for name in ["kvm", "pci", "fw_cfg", "virt"]:
        done.add(element(name))
    log: Log = []

    called = done.notify(log)

    assert log == ["virt", "fw_cfg", "pci", "kvm"]
    assert called == log
    assert done.names() == log
    assert len(done) == 4


def test_notifier_may_remove_itself_while_notified():
    done = NotifierList[Log]()
    log: Log = []
    done.add(element("a"))

    def self_remover(log: Log) -> None:
        log.append("b")
        done.remove(me)

    me = ListNotifier(self_remover, "b")
    done.add(me)
    done.add(element("c"))

    done.notify(log)

    assert log == ["c", "b", "a"]
    assert done.names() == ["c", "a"]


def test_removing_the_next_notifier_calls_it_then_ends_the_walk_as_qemu_7_2():
    done = NotifierList[Log]()
    log: Log = []
    a, b = element("a"), element("b")
    done.add(a)
    done.add(b)

    def remover(log: Log) -> None:
        log.append("c")
        done.remove(b)

    done.add(ListNotifier(remover, "c"))

    done.notify(log)

    assert log == ["c", "b"]
    assert done.names() == ["c", "a"]


def test_removing_a_later_notifier_skips_it_and_continues():
    done = NotifierList[Log]()
    log: Log = []
    a = element("a")
    done.add(a)
    done.add(element("b"))

    def remover(log: Log) -> None:
        log.append("c")
        done.remove(a)

    done.add(ListNotifier(remover, "c"))

    done.notify(log)

    assert log == ["c", "b"]


def test_notifier_added_during_a_walk_is_not_visited():
    done = NotifierList[Log]()
    log: Log = []

    def adder(log: Log) -> None:
        log.append("adder")
        done.add(element("new"))

    done.add(ListNotifier(adder, "adder"))

    done.notify(log)

    assert log == ["adder"]
    assert done.names() == ["new", "adder"]


def test_adding_the_same_notifier_twice_is_an_error_not_corruption():
    done = NotifierList[Log]("machine-init-done")
    a = element("a")
    done.add(a)

    with pytest.raises(DuplicateNotifierError, match="already registered") as info:
        done.add(a)

    assert info.value.name == "a"
    assert info.value.event == "machine-init-done"
    assert info.value.location.endswith(".py:" + info.value.location.split(":")[-1])
    assert done.names() == ["a"]


def test_removing_a_notifier_not_in_the_list_is_an_error_not_a_crash():
    done = NotifierList[Log]("machine-init-done")
    other = NotifierList[Log]("reset")
    a = element("a")
    other.add(a)

    with pytest.raises(UnknownNotifierError) as info:
        done.remove(a)

    assert info.value.name == "a"
    assert str(info.value) == "no notifier 'a' is registered for 'machine-init-done'"


def test_removed_notifier_can_join_another_list():
    first, second = NotifierList[Log](), NotifierList[Log]()
    a = element("a")
    first.add(a)
    first.remove(a)

    second.add(a)

    assert first.is_empty()
    assert not second.is_empty()


def test_removing_the_tail_keeps_the_rest():
    done = NotifierList[Log]()
    a, b, c = element("a"), element("b"), element("c")
    for item in (a, b, c):
        done.add(item)

    done.remove(a)
    done.remove(c)

    assert done.names() == ["b"]


def test_element_takes_its_callbacks_name_by_default():
    def pcibus_machine_done(log: Log) -> None: ...

    item = ListNotifier(pcibus_machine_done)

    assert item.name == "pcibus_machine_done"
    assert repr(item) == "<ListNotifier 'pcibus_machine_done'>"


def test_with_return_list_stops_at_the_first_non_zero_result():
    hooks = NotifierWithReturnList[Log]("postcopy")
    log: Log = []

    def hook(name: str, result: int) -> ReturnNotifier[Log]:
        def callback(log: Log) -> int:
            log.append(name)
            return result

        return ReturnNotifier(callback, name)

    hooks.add(hook("old", 0))
    hooks.add(hook("refuses", -22))
    hooks.add(hook("new", 0))

    result = hooks.notify(log)

    assert result == -22
    assert log == ["new", "refuses"]


def test_with_return_list_returns_zero_when_all_agree_or_empty():
    hooks = NotifierWithReturnList[Log]()

    assert hooks.notify([]) == 0
    hooks.add(ReturnNotifier(lambda log: 0, "ok"))
    assert hooks.notify([]) == 0


def test_exception_from_a_callback_ends_the_walk():
    done = NotifierList[Log]()
    log: Log = []
    done.add(element("a"))

    def boom(log: Log) -> None:
        raise RuntimeError("boom")

    done.add(ListNotifier(boom, "boom"))

    with pytest.raises(RuntimeError):
        done.notify(log)

    assert log == []


def test_adding_a_plain_function_is_a_type_error_that_says_how_to_wrap_it():
    lst = NotifierList[list[str]]("machine-init-done")

    def plain(log: list[str]) -> None:
        pass

    with pytest.raises(TypeError, match=r"wrap it: ListNotifier\(callback, name\)"):
        lst.add(plain)  # type: ignore[arg-type]  # the misuse under test

    assert list(lst) == []
