import errno

from virtmodel.machine.boards.virt.matrix import Cell, format_matrix, its_matrix


def test_the_matrix_follows_the_kernel_rules():
    cells: dict[tuple[str, str, str], Cell] = {
        (c.era, c.mode, c.placement): c for c in its_matrix()
    }

    # The thread's fear: QEMU's newest-first list runs the ITS init first.
    fear = cells["v4.8-rc1", "qemu-lifo", "init-done"]
    assert not fear.boots
    assert fear.where == "notifier its-ctrl-init"
    assert fear.errno == errno.ENXIO
    # The cure: the same notifier with a declared after=.
    assert cells["v4.8-rc1", "ordered", "init-done"].boots
    # CTRL_INIT in realize comes before any address: the rc1 patch refuses it.
    for mode in ("qemu-lifo", "ordered"):
        cell = cells["v4.8-rc1", mode, "realize"]
        assert (cell.boots, cell.where, cell.errno) == (
            False,
            "realize of 'its'",
            errno.ENXIO,
        )
    # QEMU's real arrangement works on the fixed kernels.
    for era in ("v4.8", "v6.1"):
        for mode in ("qemu-lifo", "ordered"):
            for placement in ("realize", "init-done"):
                assert cells[era, mode, placement].boots, (era, mode, placement)


def test_format_matrix_prints_one_row_per_cell():
    text = format_matrix(its_matrix())

    lines = text.splitlines()
    assert len(lines) == 13
    assert lines[0].split() == ["kernel", "notifiers", "its-init", "result"]
    assert "CTRL_INIT) -> ENXIO (notifier its-ctrl-init)" in text
