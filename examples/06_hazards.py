"""Declare what each notifier reads and writes; find the missing edge before running.

Teaches: reads=/writes= resource declarations, registry.hazards() (the static
check that every reader is ordered after every writer), tie_break_pairs()
(pairs ordered only by registration luck), and how one after= silences both.
"""

from __future__ import annotations

from virtmodel.notifiers.errors import NotifierFailedError
from virtmodel.notifiers.explore import tie_break_pairs
from virtmodel.notifiers.registry import NotifierRegistry

Kernel = dict[str, int]


def its_phase(*, fixed: bool) -> NotifierRegistry[[Kernel]]:
    """Return the ITS part of machine-init-done, with or without the edge."""
    init_done = NotifierRegistry[[Kernel]]("machine-init-done")
    init_done.add(
        "kvm-set-addr:dist",
        lambda k: k.update({"gic.dist.addr": 0x08000000}),
        writes="kvm.gic.dist.addr",
    )
    init_done.add(
        "its-ctrl-init",
        lambda k: k.update({"its.ready": k["its.addr"]}),
        reads="kvm.its.addr",
        after="kvm-set-addr:its" if fixed else (),
    )
    init_done.add(
        "kvm-set-addr:its",
        lambda k: k.update({"its.addr": 0x08080000}),
        writes="kvm.its.addr",
    )
    return init_done


if __name__ == "__main__":
    phase = its_phase(fixed=False)
    print("order:", phase.order())
    print("\nhazards found before anything runs:")
    for hazard in phase.hazards():
        print(" ", hazard)
    print("\npairs that only the registration-order tie-break orders:")
    for pair in tie_break_pairs(phase):
        print(" ", pair)
    try:
        phase.notify({})
    except NotifierFailedError as failed:
        print("\nrunning it anyway proves them right:\n ", failed)

    fixed = its_phase(fixed=True)
    print("\nwith after='kvm-set-addr:its' declared, order:", fixed.order())
    print("hazards:", fixed.hazards(), "tie-break pairs:", tie_break_pairs(fixed))
    kernel: Kernel = {}
    fixed.notify(kernel)
    print("and it runs:", {name: f"0x{value:08x}" for name, value in kernel.items()})
