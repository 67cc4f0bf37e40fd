"""``python -m virtmodel``: the same command line as the ``virtmodel`` script."""

from __future__ import annotations

import sys

from virtmodel.machine.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
