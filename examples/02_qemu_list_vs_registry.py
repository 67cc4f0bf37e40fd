"""The same two callbacks on QEMU's NotifierList and on the ordered registry.

Teaches the 2016 ITS problem in miniature: the KVM address notifier is
registered first (during GIC realize), the "ITS init" that needs the address
later. QEMU's list runs the newest first, whatever it needs, so ITS init finds
no address; the registry runs them as declared (``after=``), whatever the
registration order.
"""

from __future__ import annotations

from virtmodel.notifiers import ListNotifier, NotifierList, NotifierRegistry

Kernel = dict[str, int]
ITS_BASE = 0x08080000


def set_its_addr(kernel: Kernel) -> None:
    kernel["its.addr"] = ITS_BASE


def its_init(kernel: Kernel) -> None:
    if "its.addr" not in kernel:
        msg = "ITS CTRL_INIT needs its base address first (v4.8-rc1)"
        raise RuntimeError(msg)
    kernel["its.ready"] = kernel["its.addr"]


def main() -> None:
    qemu = NotifierList[Kernel]("machine-init-done")
    qemu.add(ListNotifier(set_its_addr, "kvm-set-addr:its"))  # GIC realize
    qemu.add(ListNotifier(its_init, "its-ctrl-init"))  # later, ITS realize
    print("QEMU list runs:", qemu.names())
    try:
        qemu.notify({})
    except RuntimeError as error:
        print("QEMU list failed:", error)

    ordered = NotifierRegistry[[Kernel]]("machine-init-done")
    ordered.add("kvm-set-addr:its", set_its_addr)
    ordered.add("its-ctrl-init", its_init, after="kvm-set-addr:its")
    kernel: Kernel = {}
    trace = ordered.notify(kernel)
    print("registry runs:", trace.names("ran"))
    print(f"ITS ready at 0x{kernel['its.ready']:08x}")
    print(ordered.explain("its-ctrl-init", "kvm-set-addr:its"))


if __name__ == "__main__":
    main()
