"""Debian packages the tests need (PostgreSQL, Chromium), installed on first use when missing.

So the README's test command works on a fresh machine by itself: as root (or
with password-less sudo) the missing package is installed with apt-get, once,
under a lock; otherwise the test fails saying what to install.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

__all__ = ["debian_package"]

_LOCK = "/tmp/lakemesh-tests-apt.lock"


def debian_package(package: str, *, find: Callable[[], str | None]) -> str:
    """What `find()` locates, installing Debian's `package` first if it finds nothing."""
    if found := find():
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if prefix is None or shutil.which("apt-get") is None:
        pytest.fail(f"Debian's `{package}` package is missing and cannot be installed here: install it")
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found := find():  # another test process installed it meanwhile
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                                       package]):  # fmt: skip
            done = subprocess.run([*prefix, *command], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.fail(f"installing Debian's `{package}` failed: {done.stderr.strip()[-500:]}")
    if found := find():
        return found
    pytest.fail(f"Debian's `{package}` was installed but what the tests need is still not found")
