"""QEMU 7.2's ``-M virt`` board, one room, imported along one chain.

Each module imports only those before it:

``memmap`` (the fixed address map) → ``cpuprops`` and ``devopts`` (``-cpu``
properties, the modelled ``-device`` types) → ``options`` (QEMU option text to
values and back) → ``psci`` (boot level and PSCI facts) → ``fields`` (the
user's choices, ``-smp`` as one topology) → ``layout`` (QEMU's limits and the
derived memory map) → ``config`` (:class:`~.config.VirtConfig`, the validated
machine) → ``help`` and ``cmdline`` (a whole QEMU command line, merged as QEMU
merges it) → ``gic`` → ``devices`` (the device models) → ``tree`` (the device
tree) → ``dtb`` (blob and file glue) → ``memtree`` and ``qtree`` (QEMU's
monitor views) → ``board`` (``create_virt``/``boot_virt``) → the applications
``explore``, ``matrix`` and ``lesson``.

The package itself imports nothing, so reading the options does not load the
device models.
"""
