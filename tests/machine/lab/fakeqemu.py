"""A stand-in for qemu-system-aarch64 that plays a lab guest's console.

It reads the nonce from the /init inside ``-initrd`` (the archive is not
compressed), then acts out ``FAKE_QEMU_MODE``:

- ``ok``: print READY, the sections in ``FAKE_QEMU_SECTIONS`` (JSON list of
  [name, status, lines]), DONE, and hang until killed (as a guest would
  before its power-off is noticed).
- ``hang``: print a boot line, start a grandchild, and sleep.
- ``crash``: print READY and a panic line, then exit 1 (panic=-1 -no-reboot).
- ``garbled``: like ok, but the END line claims one line more than was sent.

``FAKE_QEMU_PIDFILE`` receives the process id, so a test can check the
whole process group is gone afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    initrd = args[args.index("-initrd") + 1]
    with open(initrd, "rb") as archive:
        data = archive.read()
    match = re.search(rb"\nN=([0-9a-f]+)\n", data)
    nonce = match.group(1).decode() if match else "none"
    mode = os.environ.get("FAKE_QEMU_MODE", "ok")
    pidfile = os.environ.get("FAKE_QEMU_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write(str(os.getpid()))

    def say(line: str) -> None:
        sys.stdout.write(line + "\r\n")
        sys.stdout.flush()

    if mode == "hang":
        say("[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]")
        subprocess.Popen(["sleep", "300"])
        time.sleep(300)
        return 0
    say(f"@@LAB {nonce} READY")
    if mode == "crash":
        say("[   12.345678] Kernel panic - not syncing: Attempted to kill init!")
        sys.stderr.write("qemu: guest panicked\n")
        return 1
    sections = json.loads(os.environ.get("FAKE_QEMU_SECTIONS", "[]"))
    for name, status, lines in sections:
        say(f"@@LAB {nonce} BEGIN {name}")
        for line in lines:
            say(f"{nonce}|{line}")
            say("[   13.000000] kvm [77]: a kernel line that slipped in")
        extra = 1 if mode == "garbled" else 0
        say(f"@@LAB {nonce} END {name} {status} {len(lines) + extra}")
    say(f"@@LAB {nonce} DONE")
    time.sleep(300)
    return 0


if __name__ == "__main__":
    sys.exit(main())
