"""``-dtb FILE``: the user's blob instead of the board's tree, as QEMU 7.2 edits it.

With ``-dtb`` the ``virt`` board still builds its own tree, but ``arm_load_dtb``
loads the file and hands the guest (and ``dumpdtb``) that blob instead, after
editing it in place with libfdt (:class:`~virtmodel.machine.fdt.FdtBlob`):

1. the file goes into a zeroed buffer of ``(size + 10000) * 2`` bytes, which
   becomes the blob's ``totalsize`` and the size of the dump;
2. the root must have one-cell ``#address-cells`` and ``#size-cells``, neither
   0, and ``#size-cells`` 1 cannot describe 4 GiB of RAM or more;
3. every node named ``memory`` or ``memory@...`` whose *path* begins with
   ``/memory`` is overwritten with NOP tokens, in blob order;
4. the memory nodes are added in the root's cell sizes, ``/chosen`` if the
   blob has none, the boot arguments and the initrd range, as for the board's
   own tree (:func:`~virtmodel.machine.boards.virt.tree.fdt_add_boot_nodes`);
5. unless the PSCI conduit is disabled, a ``/psci`` the blob has is NOPed
   and QEMU's own written in its place.

Nothing else of the board's tree reaches the blob: not the platform bus, not
the random seeds, not a guest-loader's module node.

QEMU looks the file up in its data directories when the path does not name a
readable file; virtmodel reads the path as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from virtmodel.devices.base import FdtContext
from virtmodel.machine.boards.virt.tree import fdt_add_boot_nodes
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.fdt import Fdt, FdtBlob, FdtError

if TYPE_CHECKING:
    from virtmodel.devices.psci import Psci
    from virtmodel.machine.boards.virt.config import VirtConfig

__all__ = ["dtb_buffer_size", "load_user_dtb"]

#: ``load_device_tree``'s headroom: the file's size plus this, doubled.
_HEADROOM: Final = 10_000
#: Files larger than this QEMU calls too large (``INT_MAX / 2 - 10000``).
_MAX_FILE: Final = 0x7FFFFFFF // 2 - _HEADROOM
_GiB: Final = 1 << 30


def dtb_buffer_size(file_size: int) -> int:
    """Return the buffer QEMU loads a *file_size*-byte ``-dtb`` into (and dumps)."""
    return (file_size + _HEADROOM) * 2


def load_user_dtb(
    config: VirtConfig,
    *,
    initrd: tuple[int, int] | None,
    psci: Psci | None,
) -> FdtBlob:
    """Return ``config.dtb`` loaded and edited as ``arm_load_dtb`` edits it.

    Args:
        config: The machine; its ``dtb`` names the file.
        initrd: ``(start, size)`` of a loaded initrd, or None.
        psci: The board's PSCI node, or None when the conduit is disabled.

    Raises:
        ConfigError: The file cannot be read, is not a blob QEMU can load, or
            its root's cell sizes cannot describe the machine's memory. The
            message names the file.
    """
    path = config.dtb
    assert path is not None, "load_user_dtb needs a config with -dtb"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        msg = f"cannot read {path!r}: {exc.strerror}"
        raise _refused(path, msg) from exc
    if len(data) > _MAX_FILE:
        raise _refused(path, f"{path!r} is too large for a device tree")
    try:
        blob = FdtBlob.open_into(data, dtb_buffer_size(len(data)))
        Fdt.from_dtb(blob.to_dtb())  # the whole structure, checked strictly
    except FdtError as exc:
        msg = f"{path!r} is not a device tree blob QEMU can load: {exc.problem}"
        declared = int.from_bytes(data[4:8], "big")
        if len(data) < declared:
            msg += f" (the file is {len(data)} bytes, its header says {declared})"
        raise _refused(path, msg) from exc
    cells = (
        _root_cell(blob, path, "#address-cells"),
        _root_cell(blob, path, "#size-cells"),
    )
    if 0 in cells:
        msg = f"{path!r}: the root's #address-cells or #size-cells is 0"
        raise _refused(path, msg)
    if cells[1] < 2 and config.ram_size >= 4 * _GiB:
        msg = f"{path!r}: #size-cells 1 cannot describe 4 GiB of RAM or more"
        raise _refused(path, msg)
    _nop_memory_nodes(blob, path)
    try:
        fdt_add_boot_nodes(
            blob, config, kernel_cmdline=config.append, initrd=initrd, cells=cells
        )
    except ValueError as exc:
        msg = f"{path!r}: cannot add the memory nodes: {exc}"
        raise _refused(path, msg) from exc
    if psci is not None:
        if blob.exists("/psci"):
            blob.nop_node("/psci")
        psci.fdt_node(blob, FdtContext())
    return blob


def _refused(path: str, problem: str) -> ConfigError:
    return ConfigError(option="dtb", value=path, problem=problem)


def _root_cell(blob: FdtBlob, path: str, name: str) -> int:
    try:
        value = blob.getprop("/", name)
    except FdtError:
        msg = f"{path!r}: the root node has no {name}"
        raise _refused(path, msg) from None
    if len(value) != 4:
        msg = f"{path!r}: the root's {name} is {len(value)} bytes, not one cell"
        raise _refused(path, msg)
    return int.from_bytes(value, "big")


def _is_memory(name: str) -> bool:
    return name == "memory" or name.startswith("memory@")


def _nop_memory_nodes(blob: FdtBlob, path: str) -> None:
    """NOP the memory nodes as QEMU does: by path, listed before any is removed.

    QEMU lists every node named ``memory`` or ``memory@...`` at any depth and
    removes those whose path starts with ``/memory`` (so a ``memory@0`` inside
    ``/memory-controller`` goes too). A path inside a node already removed no
    longer resolves, and QEMU stops there.
    """
    targets = [
        node
        for _, node in blob.walk()
        if _is_memory(node.rpartition("/")[2]) and node.startswith("/memory")
    ]
    for node in targets:
        try:
            blob.nop_node(node)
        except FdtError as exc:
            msg = (
                f"{path!r}: {node} lies inside a memory node QEMU has already "
                "removed, so QEMU cannot find it to remove it"
            )
            raise _refused(path, msg) from exc
