"""Refusals: no arm64 host, no /dev/kvm, no permission, not KVM; nothing left open."""

from __future__ import annotations

import errno
import os
import platform
import signal
import subprocess
import sys
import time

import pytest

from tests.machine.kvm.host.fakekernel import FakeKernel
from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.kvm.host import (
    KvmUnavailable,
    Syscalls,
    check_host,
    create_host_vm,
    open_kvm,
)
from virtmodel.machine.kvm.host.syscalls import bounded_ioctl

ARM64_HOST = platform.machine() in ("aarch64", "arm64")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_non_arm64_host_is_refused_naming_what_it_is():
    with pytest.raises(KvmUnavailable) as caught:
        check_host("x86_64", "linux")
    assert caught.value.errno == errno.ENOSYS
    assert str(caught.value).startswith(
        "--kvm host needs an arm64 Linux host with KVM; this is linux/x86_64"
    )
    check_host("aarch64", "linux")  # no error
    with pytest.raises(KvmUnavailable, match="darwin/arm64"):
        check_host("arm64", "darwin")


@pytest.mark.skipif(ARM64_HOST, reason="this host is arm64: the check passes")
def test_this_host_is_refused_before_anything_is_opened():
    before = open_fds()
    with pytest.raises(KvmUnavailable, match=platform.machine()):
        create_host_vm(40)
    with pytest.raises(KvmUnavailable):
        KvmAccel(backend="host")
    with pytest.raises(KvmUnavailable, match=platform.machine()):
        kvm.create_vm(40, backend="host")
    assert open_fds() == before


def test_a_missing_device_node_is_named(tmp_path):
    path = str(tmp_path / "kvm")
    with pytest.raises(KvmUnavailable) as caught:
        open_kvm(Syscalls(), path)
    assert caught.value.errno == errno.ENOENT
    assert (
        str(caught.value)
        == f"{path} does not exist: this host has no KVM (is it enabled?)"
    )


def test_no_permission_is_named():
    fake = FakeKernel(fail={"open": errno.EACCES})
    with pytest.raises(KvmUnavailable) as caught:
        create_host_vm(40, syscalls=fake, check_arch=False)
    assert caught.value.errno == errno.EACCES
    assert "/dev/kvm: permission denied" in str(caught.value)
    assert fake.open_fds == set()


def test_a_device_that_is_not_kvm_is_refused_and_closed():
    before = open_fds()
    with pytest.raises(KvmUnavailable) as caught:
        open_kvm(Syscalls(), "/dev/null")
    assert caught.value.errno == errno.ENOTTY
    assert str(caught.value).startswith("/dev/null is not a KVM device")
    assert open_fds() == before


class _Sleeper(Syscalls):
    def ioctl(self, fd, request, arg=0):
        time.sleep(30)
        return 0


def test_a_run_that_never_ends_is_interrupted_with_eintr():
    previous = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    with pytest.raises(OSError, match=r"interrupted after 0\.2 s") as caught:
        bounded_ioctl(_Sleeper(), 0, 0, 0.2)
    assert caught.value.errno == errno.EINTR
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.skipif(ARM64_HOST, reason="this host is arm64: the check passes")
def test_the_cli_refuses_in_one_line_with_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "virtmodel", "run", "-M", "virt,gic-version=3,its=on",
         "-smp", "2", "-cpu", "host", "-accel", "kvm", "--kvm", "host"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        f"virtmodel: error: --kvm host needs an arm64 Linux host with KVM; "
        f"this is linux/{platform.machine()}"
    )


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["-accel", "tcg", "--kvm", "host"], "--kvm host needs -accel kvm"),
        (["-accel", "kvm", "--kvm", "host", "--kernel-semantics", "v4.8"],
         "--kernel-semantics picks the simulator's kernel"),
        (["-accel", "kvm", "--kvm", "qemu"], "invalid choice: 'qemu'"),
    ],
)  # fmt: skip
def test_bad_kvm_options_are_usage_errors(words, message, capsys):
    from virtmodel.machine.cli.main import main

    assert main(["run", "-M", "virt,gic-version=3", *words]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
