"""Notifier ordering: declare what runs after what, and let the registry sort.

Teaches: ``after=``/``before=`` edges; ties broken by registration order
(``gic`` and ``clocks`` are unconstrained, so ``gic``, registered first, runs
first); ``explain`` for the reason; and a deliberately cyclic registration:
``add()`` stays cheap, and the order, computed before anything runs, refuses
it with the whole loop and who declared each edge.
"""

from __future__ import annotations

from virtmodel.notifiers import CycleError, NotifierRegistry

reset = NotifierRegistry[list[str]]("machine-reset", one_shot=False)


@reset.register(after="clocks")
def uart(log: list[str]) -> None:
    log.append("uart: drain FIFO")


@reset.register(before="uart")
def gic(log: list[str]) -> None:
    log.append("gic: mask all lines")


@reset.register()
def clocks(log: list[str]) -> None:
    log.append("clocks: back to reference rate")


def main() -> None:
    print(reset.order())  # ['gic', 'clocks', 'uart']
    log: list[str] = []
    reset.notify(log)
    print("\n".join(log))
    print(reset.explain("clocks", "uart"))
    print(reset.explain("gic", "clocks"))

    # clocks must now come after uart, but uart already comes after clocks.
    reset.add("clocks-late", lambda log: None, after="uart", before="clocks")
    try:
        reset.order()
    except CycleError as error:
        print(f"rejected: {error}")
        print(f"cycle: {error.cycle}")
        reset.remove("clocks-late")


if __name__ == "__main__":
    main()
