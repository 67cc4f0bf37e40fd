"""The July 2016 ITS init-order bug, reproduced and fixed: the whole matrix.

Three kernels (the ITS patch as merged for v4.8-rc1, the fixed v4.8, and
Debian's 6.1), two ways to run init-done notifiers (QEMU's newest-first list, or
virtmodel's declared order) and two places for the ITS's CTRL_INIT (in
realize, as QEMU >= 2.8 does; or in an init-done notifier declared
``after=`` the ITS address write, as the thread proposed). Every cell is a real
bring-up of the same virt machine; read the trace of any of them with
``virtmodel run ... --kernel-semantics ERA --notifiers MODE --its-init PLACE``.
"""

from virtmodel.machine.boards.virt.matrix import format_matrix, its_matrix

cells = its_matrix()
print(format_matrix(cells))

fear = next(
    c
    for c in cells
    if (c.era, c.mode, c.placement) == ("v4.8-rc1", "qemu-lifo", "init-done")
)
cure = next(
    c
    for c in cells
    if (c.era, c.mode, c.placement) == ("v4.8-rc1", "ordered", "init-done")
)
print()
print("What the thread feared: QEMU's list runs the ITS init before the address write:")
print("  " + fear.verdict())
print("The cure: the same notifier, declared after='kvm-set-addr:its', in a registry:")
print("  " + cure.verdict())
