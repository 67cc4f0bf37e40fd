"""Golden DTBs captured from the real QEMU 7.2 (see capture.py)."""
