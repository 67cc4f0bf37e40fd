"""Running the real ``qemu-system-aarch64``: process supervision, boot, initramfs.

``process`` starts QEMU in its own process group, streams its console and
never lets it outlive the call; ``boot`` boots a kernel on virtmodel's device
tree; ``initramfs`` writes the newc archives the guests start from.
"""
