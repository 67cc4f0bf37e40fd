"""virtmodel: compose QEMU-style machine models and run their init in declared order.

The distribution installs one import name, ``virtmodel``, with three
subpackages: ``virtmodel.notifiers`` (the ordered notifier registry, a leaf),
``virtmodel.machine`` (the framework, the simulated KVM, the boards and the
command line) and ``virtmodel.devices`` (the device models).

In the repository the subpackages are the folders ``notifiers/``,
``machine/`` and ``devices/`` at the root; this folder (``.pkg/virtmodel``)
holds only this file, ``__main__.py`` and links to those three folders, so
that setuptools, mypy and pytest all see the one ``virtmodel`` tree.
"""

from __future__ import annotations

from typing import Final

__all__ = ["__version__"]

#: The version of the distribution (PEP 440).
__version__: Final = "0.2.0"
