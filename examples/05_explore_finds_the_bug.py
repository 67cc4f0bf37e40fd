"""Let explore() find the missing after= of the 2016 ITS bug, then confirm the fix.

Teaches: running a phase under every valid order on fresh state, how a
differing outcome is shrunk to the culprit pair, and the after= it suggests.
"""

from __future__ import annotations

import errno

from virtmodel.notifiers.explore import Built, explore
from virtmodel.notifiers.registry import NotifierRegistry

Kernel = dict[str, int]  # a tiny fake KVM: attribute name -> value


def its_phase(*, fixed: bool) -> Built:
    """Return a fresh machine-init-done phase and its fresh fake kernel."""
    kernel: Kernel = {}
    init_done = NotifierRegistry[[Kernel]]("machine-init-done")

    def set_dist(k: Kernel) -> None:
        k["gic.dist.addr"] = 0x08000000

    def its_init(k: Kernel) -> None:
        # Linux v4.8-rc1 mapped the ITS at CTRL_INIT: no base address, ENXIO.
        if "its.addr" not in k:
            raise OSError(errno.ENXIO, "ITS base address not set")
        k["its.ready"] = 1

    def set_its(k: Kernel) -> None:
        k["its.addr"] = 0x08080000

    init_done.add("kvm-set-addr:dist", set_dist)
    # Registered before the address write, and (unless fixed) not ordered
    # after it: the registration tie-break runs it too early.
    after = "kvm-set-addr:its" if fixed else ()
    init_done.add("its-ctrl-init", its_init, after=after)
    init_done.add("kvm-set-addr:its", set_its)
    return init_done, (kernel,)


def state(k: Kernel) -> dict[str, str | int]:
    """Return the kernel's state as explore reports it: addresses in hex."""
    return {
        name: f"0x{v:08x}" if name.endswith(".addr") else v for name, v in k.items()
    }


if __name__ == "__main__":
    print("1. The phase as written: every valid order, each on a fresh kernel.\n")
    result = explore(lambda: its_phase(fixed=False), check=state)
    print(result)

    culprit = result.culprits[0]
    print(f"\nexplore blames {culprit.pair} and suggests:\n  {culprit.fix}\n")

    print("2. The same phase with that after= declared:\n")
    print(explore(lambda: its_phase(fixed=True), check=state))
