"""``python -m virtmodel.machine.cli``: the same as ``python -m virtmodel``."""

from __future__ import annotations

import sys

from virtmodel.machine.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
