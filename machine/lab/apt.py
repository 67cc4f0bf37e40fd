"""Download Debian arm64 packages without installing anything.

apt runs with the architecture forced to arm64 and its lists, cache and dpkg
status in a private directory; the status file is empty, so the host's
installed packages count for nothing and a dependency closure is complete.
Packages are only unpacked with ``dpkg -x``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from virtmodel.machine.lab.paths import LabError

__all__ = ["Arm64Apt", "require_tool"]


def require_tool(name: str, package: str) -> str:
    """Return the path of program *name*, or raise naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name!r} not found; install the Debian package {package!r}"
        raise LabError(msg)
    return path


class Arm64Apt:
    """apt-get/apt-cache against a private arm64 state directory."""

    def __init__(self, state: Path) -> None:
        self.state = state
        for tool, package in (
            ("apt-get", "apt"),
            ("apt-cache", "apt"),
            ("dpkg", "dpkg"),
        ):
            require_tool(tool, package)
        for sub in ("lists/partial", "cache/archives/partial"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        status = state / "status"
        if not status.exists():
            status.write_text("")
        self.options = [
            "-oAPT::Architecture=arm64",
            "-oAPT::Architectures=arm64",
            f"-oDir::State::Lists={state / 'lists'}",
            f"-oDir::Cache={state / 'cache'}",
            f"-oDir::State::status={status}",
            "-oDebug::NoLocking=1",
            "-qq",
        ]
        if os.geteuid() == 0:
            # Root's apt drops to the _apt user, who could not write the
            # private directories.
            self.options.append("-oAPT::Sandbox::User=root")

    def _run(
        self, tool: str, args: Sequence[str], what: str, cwd: Path | None = None
    ) -> str:
        done = subprocess.run(
            [tool, *self.options, *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=False,
        )
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            detail = lines[-1] if lines else f"status {done.returncode}"
            msg = f"{what} failed: {detail}"
            raise LabError(msg)
        return done.stdout

    def update(self) -> None:
        """Fetch the arm64 package lists of the host's sources.list."""
        self._run("apt-get", ["update"], "apt-get update (arm64 lists)")

    def depends(self, package: str) -> list[str]:
        """Return *package*'s direct Depends (first choice of alternatives)."""
        out = self._run(
            "apt-cache",
            [
                "depends",
                "--no-recommends",
                "--no-suggests",
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
                package,
            ],
            f"apt-cache depends {package} (is it in the arm64 lists?)",
        )
        deps = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] in ("Depends:", "PreDepends:"):
                deps.append(fields[1].strip("<>"))
        if not deps and package not in out:
            msg = f"package {package!r} is not in the arm64 package lists"
            raise LabError(msg)
        return deps

    def closure(self, packages: Sequence[str]) -> list[str]:
        """Return every package installing *packages* would bring in."""
        out = self._run(
            "apt-get",
            ["-s", "install", "--no-install-recommends", *packages],
            f"resolving the dependencies of {' '.join(packages)}",
        )
        return [
            line.split()[1] for line in out.splitlines() if line.startswith("Inst ")
        ]

    def download(self, packages: Sequence[str], into: Path) -> list[Path]:
        """Download the .debs of *packages* (arm64) into *into*."""
        into.mkdir(parents=True, exist_ok=True)
        names = [p if ":" in p else f"{p}:arm64" for p in packages]
        # apt-get download names no culprit when one of many is missing, so
        # a failure is retried one by one to say which.
        try:
            self._run("apt-get", ["download", *names], "apt-get download", cwd=into)
        except LabError:
            for name in names:
                self._run(
                    "apt-get", ["download", name], f"downloading {name!r}", cwd=into
                )
        return sorted(into.glob("*.deb"))

    @staticmethod
    def unpack(debs: Sequence[Path], into: Path) -> None:
        """``dpkg -x`` every .deb in *debs* into *into*."""
        for deb in debs:
            done = subprocess.run(
                ["dpkg", "-x", str(deb), str(into)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                msg = f"dpkg -x {deb.name} failed: {done.stderr.strip()}"
                raise LabError(msg)
